-- The weekly digest is built from what the bot stored about the races it posted: one compact
-- row per (server, race, tracked driver), written when the race is posted. digest_sent is the
-- claim that makes a server's digest go out once per week, across restarts and instances.
-- depends: 0007_server_choices
CREATE TABLE digest_row (
    guild_id BIGINT NOT NULL,
    subsession_id BIGINT NOT NULL,
    cust_id BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    finished_at BIGINT NOT NULL,
    series_id BIGINT NULL,
    series_name VARCHAR(255) NOT NULL,
    category_id INTEGER NULL,
    class_position INTEGER NULL,
    class_start INTEGER NULL,
    incidents INTEGER NOT NULL,
    old_irating INTEGER NULL,
    new_irating INTEGER NULL,
    PRIMARY KEY (guild_id, subsession_id, cust_id)
);

CREATE INDEX ix_digest_row_time ON digest_row (guild_id, finished_at);

CREATE TABLE digest_sent (
    guild_id BIGINT NOT NULL,
    week VARCHAR(10) NOT NULL,
    claimed_at BIGINT NOT NULL,
    claim_owner VARCHAR(64) NULL,
    channel_id BIGINT NOT NULL,
    message_id BIGINT NULL,
    state VARCHAR(16) NOT NULL,
    PRIMARY KEY (guild_id, week)
);
