-- A race found is a race owed: every official race the live watcher, its catch-up or the
-- per-driver poll found (or could not read yet) is written here before anything can drop it,
-- and removed once every server's post of it is settled in post_history. Any process picks up
-- rows whose next_try_at has come, a dead process's too. A race given up (iRacing said twice,
-- minutes apart, that it has no such subsession; or it stayed unreadable for days) keeps its
-- row, with the reason, for /iracing status, and is purged a week later.
-- depends: 0010_live_notice
CREATE TABLE pending_race (
    subsession_id BIGINT NOT NULL PRIMARY KEY,
    started_at BIGINT NOT NULL,
    found_at BIGINT NOT NULL,
    found_by VARCHAR(16) NOT NULL,
    tries INTEGER NOT NULL,
    next_try_at BIGINT NOT NULL,
    first_failure_at BIGINT NULL,
    not_found_at BIGINT NULL,
    last_error VARCHAR(64) NULL,
    gave_up_at BIGINT NULL,
    give_up_reason VARCHAR(32) NULL
);

CREATE INDEX ix_pending_race_due ON pending_race (next_try_at);
