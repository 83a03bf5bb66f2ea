-- The five tables. Portable SQL for SQLite, MariaDB/MySQL and PostgreSQL; times are epoch seconds.
CREATE TABLE guild (
    guild_id BIGINT NOT NULL PRIMARY KEY,
    channel_id BIGINT NULL,
    timezone VARCHAR(64) NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE tracked_driver (
    guild_id BIGINT NOT NULL,
    cust_id BIGINT NOT NULL,
    display_name VARCHAR(255) NOT NULL,
    active SMALLINT NOT NULL DEFAULT 1,
    created_by BIGINT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (guild_id, cust_id)
);

-- The poller asks "who tracks this driver" across all servers.
CREATE INDEX ix_tracked_driver_cust ON tracked_driver (cust_id, active);

CREATE INDEX ix_tracked_driver_created_by ON tracked_driver (created_by);

CREATE TABLE last_seen (
    guild_id BIGINT NOT NULL,
    cust_id BIGINT NOT NULL,
    last_subsession_id BIGINT NOT NULL,
    last_finish_at BIGINT NOT NULL,
    PRIMARY KEY (guild_id, cust_id)
);

CREATE INDEX ix_last_seen_cust ON last_seen (cust_id);

-- The primary key is the unique (guild_id, subsession_id) that makes a post happen once.
CREATE TABLE post_history (
    guild_id BIGINT NOT NULL,
    subsession_id BIGINT NOT NULL,
    message_id BIGINT NULL,
    posted_at BIGINT NULL,
    PRIMARY KEY (guild_id, subsession_id)
);

CREATE TABLE auth_state (
    id INTEGER NOT NULL PRIMARY KEY,
    cookies_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
