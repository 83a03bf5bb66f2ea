-- Races are aged from when they finished, never from when they started (a 24-hour race that
-- just ended started a day ago). post_history keeps when the race finished instead of when it
-- started; last_seen.last_finish_at, which held the start of the pair's newest race, now holds
-- its finish.
-- depends: 0002_post_outbox
ALTER TABLE post_history ADD COLUMN race_finished_at BIGINT NULL;

-- The old rows never knew the end: when this bot claimed the post is when it saw the race
-- finished, the clock the new code uses for a race whose end is not known.
UPDATE post_history SET race_finished_at = COALESCE(claimed_at, posted_at, race_started_at);

ALTER TABLE post_history DROP COLUMN race_started_at;

-- A watermark whose race was posted gets that post's claim time; a baseline (never posted)
-- keeps its start, the earliest the race can have finished.
UPDATE last_seen SET last_finish_at = (
    SELECT COALESCE(p.claimed_at, p.posted_at) FROM post_history p
    WHERE p.guild_id = last_seen.guild_id AND p.subsession_id = last_seen.last_subsession_id
)
WHERE EXISTS (
    SELECT 1 FROM post_history p
    WHERE p.guild_id = last_seen.guild_id AND p.subsession_id = last_seen.last_subsession_id
    AND COALESCE(p.claimed_at, p.posted_at) IS NOT NULL
);
