-- "On track now": a short notice when a tracked driver's race goes live, at most one per
-- (server, race): the key decides between processes and across a restart. Claimed before it
-- is sent; a crash between the claim and the post loses that notice rather than risking two.
-- depends: 0008_weekly_digest
CREATE TABLE live_notice (
    guild_id BIGINT NOT NULL,
    subsession_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    claim_owner VARCHAR(64) NULL,
    message_id BIGINT NULL,
    state VARCHAR(16) NOT NULL,
    PRIMARY KEY (guild_id, subsession_id)
);

CREATE INDEX ix_live_notice_time ON live_notice (claimed_at);
