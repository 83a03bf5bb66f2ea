-- Several processes on one database split the drivers: each live process keeps a row here fresh
-- (a heartbeat), every process reads the rows and takes its share of the drivers by rendezvous
-- hashing over the live ones; a row not refreshed for a while belongs to a dead process. The
-- holder of the live watcher writes its watcher's state so the others know their poll is its
-- safety net. Several iRacing accounts: one saved token pair per account (and process), keyed.
-- depends: 0004_result_image
CREATE TABLE work_lease (
    process_id VARCHAR(64) NOT NULL PRIMARY KEY,
    instance_id VARCHAR(64) NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    drivers INTEGER NOT NULL DEFAULT 0,
    watcher VARCHAR(16) NULL,
    watcher_requests INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE account_auth_state (
    account_key VARCHAR(64) NOT NULL PRIMARY KEY,
    state_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
