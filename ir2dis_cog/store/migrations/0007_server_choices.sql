-- Each server decides what it hears: filters, channels per category, a podium channel, pings,
-- members linked to drivers. One row per server with a column per setting (each command changes
-- its own column, so two admins changing different settings never undo each other).
-- depends: 0004_result_image
CREATE TABLE guild_choices (
    guild_id BIGINT NOT NULL PRIMARY KEY,
    categories VARCHAR(128) NULL,
    min_sof INTEGER NULL,
    series_in TEXT NULL,
    series_out TEXT NULL,
    category_channels TEXT NULL,
    podium_channel BIGINT NULL,
    podium_top INTEGER NULL,
    ping_members SMALLINT NULL,
    ping_role BIGINT NULL,
    digest_channel BIGINT NULL,
    digest_day SMALLINT NULL,
    digest_hour SMALLINT NULL,
    live_channel BIGINT NULL,
    updated_at BIGINT NOT NULL
);

-- Who a post pings, kept with the claim so that a retry after a crash pings the same people.
ALTER TABLE post_history ADD COLUMN mentions VARCHAR(512) NULL;

-- A race posted to more channels than its main one (the podium channel): exactly once per
-- (server, channel, race) by this key, claimed, sent and recorded like post_history's posts.
CREATE TABLE post_copy (
    guild_id BIGINT NOT NULL,
    subsession_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    card_json TEXT NOT NULL,
    mentions VARCHAR(512) NULL,
    race_finished_at BIGINT NOT NULL,
    state VARCHAR(16) NOT NULL,
    message_id BIGINT NULL,
    claimed_at BIGINT NOT NULL,
    claim_owner VARCHAR(64) NULL,
    lease_until BIGINT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR(255) NULL,
    last_error_at BIGINT NULL,
    posted_at BIGINT NULL,
    PRIMARY KEY (guild_id, subsession_id, channel_id)
);

CREATE INDEX ix_post_copy_state ON post_copy (state, lease_until);

-- "This iRacing driver is me": one member per driver and one driver per member in a server.
CREATE TABLE member_link (
    guild_id BIGINT NOT NULL,
    cust_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    confirmed SMALLINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (guild_id, cust_id)
);

CREATE UNIQUE INDEX ux_member_link_user ON member_link (guild_id, user_id);

CREATE INDEX ix_member_link_user_only ON member_link (user_id);
