-- A result post carries a picture: the outbox keeps the picture's data (the image card with its
-- chart series) beside the embed's card, so a retry after a crash draws it again without asking
-- iRacing; each server chooses picture or embed only (NULL: the default, the picture).
-- depends: 0003_finish_times
ALTER TABLE post_history ADD COLUMN image_json TEXT NULL;

ALTER TABLE guild ADD COLUMN post_style VARCHAR(8) NULL;
