-- post_history becomes an outbox: a claimed post keeps its card, its channel and a lease, so a
-- crash between send and record, or a channel that is unavailable for a while, is retried by
-- exactly one process without asking iRacing again.
-- depends: 0001_initial
ALTER TABLE post_history ADD COLUMN channel_id BIGINT NULL;

ALTER TABLE post_history ADD COLUMN card_json TEXT NULL;

ALTER TABLE post_history ADD COLUMN race_started_at BIGINT NULL;

ALTER TABLE post_history ADD COLUMN claimed_at BIGINT NULL;

ALTER TABLE post_history ADD COLUMN claim_owner VARCHAR(64) NULL;

ALTER TABLE post_history ADD COLUMN lease_until BIGINT NULL;

ALTER TABLE post_history ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

ALTER TABLE post_history ADD COLUMN last_error VARCHAR(255) NULL;

ALTER TABLE post_history ADD COLUMN last_error_at BIGINT NULL;

-- pending: claimed, no message yet; posted: message_id recorded; dropped: given up on, with a reason.
ALTER TABLE post_history ADD COLUMN state VARCHAR(16) NOT NULL DEFAULT 'posted';

UPDATE post_history SET state = 'pending' WHERE message_id IS NULL;

CREATE INDEX ix_post_history_state ON post_history (state, lease_until);
