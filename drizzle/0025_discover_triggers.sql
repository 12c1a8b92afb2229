-- Discover's index (README "Discover"): post_genres holds one row per genre of each loop in search_posts, which
-- holds exactly the ready loops of producers who are neither suspended nor pending (drizzle/0022_search_index.sql).
-- drizzle-kit cannot express triggers, so this migration is written by hand (drizzle-kit generate --custom). The
-- triggers hang on search_posts, so post_genres changes in the same transaction as the loop (publication, edits of
-- genres, key or BPM, withholding, take-down, deletion) and can never disagree with search.
--
-- post_genre_rows is what post_genres should hold, one row per loop and genre (lower-cased; a genre repeated in
-- another case is one row: INSERT OR IGNORE on the unique post_genres_genre_idx). key_class is the pitch class
-- (0-11) of the key's relative major: C and Am are 0, Eb and Cm 3, A and F#m 9. Keys are stored in their short form
-- (src/audio/keys.ts: a letter, then # or b, then m for minor); an unknown key ("") is NULL. Two loops are "in the
-- same key or its relative major/minor" exactly when their key_class is equal.
CREATE VIEW `post_genre_rows` AS
	SELECT lower(trim(j.value)) AS genre, d.doc_id AS doc_id, d.post_id AS post_id, d.user_id AS user_id,
		(CASE substr(d.key, 1, 1) WHEN 'C' THEN 0 WHEN 'D' THEN 2 WHEN 'E' THEN 4 WHEN 'F' THEN 5 WHEN 'G' THEN 7 WHEN 'A' THEN 9 WHEN 'B' THEN 11 END
			+ (CASE substr(d.key, 2, 1) WHEN '#' THEN 1 WHEN 'b' THEN 11 ELSE 0 END)
			+ (CASE WHEN length(d.key) > 1 AND substr(d.key, -1, 1) = 'm' THEN 3 ELSE 0 END)) % 12 AS key_class,
		d.bpm AS bpm
	FROM search_posts d, json_each(d.genres) j WHERE j.type = 'text' AND trim(j.value) <> '';
--> statement-breakpoint
CREATE TRIGGER `search_posts_discover_ai` AFTER INSERT ON `search_posts` BEGIN
	INSERT OR IGNORE INTO post_genres(genre, doc_id, post_id, user_id, key_class, bpm)
		SELECT genre, doc_id, post_id, user_id, key_class, bpm FROM post_genre_rows WHERE doc_id = new.doc_id;
END;
--> statement-breakpoint
CREATE TRIGGER `search_posts_discover_ad` AFTER DELETE ON `search_posts` BEGIN
	DELETE FROM post_genres WHERE post_id = old.post_id;
END;
--> statement-breakpoint
CREATE TRIGGER `search_posts_discover_au` AFTER UPDATE OF `genres`, `key`, `bpm`, `user_id` ON `search_posts` BEGIN
	DELETE FROM post_genres WHERE post_id = old.post_id;
	INSERT OR IGNORE INTO post_genres(genre, doc_id, post_id, user_id, key_class, bpm)
		SELECT genre, doc_id, post_id, user_id, key_class, bpm FROM post_genre_rows WHERE doc_id = new.doc_id;
END;
--> statement-breakpoint
-- The loops already indexed.
INSERT OR IGNORE INTO post_genres(genre, doc_id, post_id, user_id, key_class, bpm)
	SELECT genre, doc_id, post_id, user_id, key_class, bpm FROM post_genre_rows;
