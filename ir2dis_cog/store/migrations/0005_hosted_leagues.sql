-- Hosted and league races. Per tracked driver, where the next search_hosted starts (the largest
-- end_time seen, iRacing's advice) and when they last raced one (their cadence); per server, the
-- leagues it follows (posted from the first race after the follow) and which kinds of race it
-- gets for its tracked drivers (NULL: all three; else a comma list of official, hosted, league).
-- depends: 0004_result_image
CREATE TABLE hosted_watch (
    cust_id BIGINT NOT NULL PRIMARY KEY,
    finish_begin BIGINT NOT NULL,
    last_race_at BIGINT NULL,
    learned SMALLINT NOT NULL DEFAULT 0,
    checked_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE league_follow (
    guild_id BIGINT NOT NULL,
    league_id BIGINT NOT NULL,
    league_name VARCHAR(255) NOT NULL,
    after_subsession_id BIGINT NOT NULL DEFAULT 0,
    followed_at BIGINT NOT NULL,
    created_by BIGINT NULL,
    PRIMARY KEY (guild_id, league_id)
);

CREATE INDEX ix_league_follow_league ON league_follow (league_id);

ALTER TABLE guild ADD COLUMN race_kinds VARCHAR(32) NULL;
