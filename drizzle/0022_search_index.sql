-- The search index (docs/architecture.md "Search"): SQLite FTS5, the same on the libSQL server. drizzle-kit cannot
-- express virtual tables or triggers, so this migration is written by hand (drizzle-kit generate --custom).
--
-- search_posts holds one row per READY post (nothing else is ever found), search_users one per approved account
-- that is not suspended. Their INTEGER PRIMARY KEY doc_id is the FTS rowid: a stable key of our own (the implicit
-- rowid of posts/users may change on VACUUM), given in the order rows enter the index, so doc_id order is the order
-- loops were published. Triggers on posts and users keep both tables in the transaction that changes the source
-- row; triggers on the two tables keep their FTS indexes (external content) and the genre counts.
CREATE TABLE `search_posts` (
	`doc_id` integer PRIMARY KEY,
	`post_id` text NOT NULL,
	`user_id` text NOT NULL,
	`bpm` real,
	`key` text NOT NULL,
	`daw` text NOT NULL,
	`genres` text NOT NULL,
	`duration_seconds` real,
	`title` text NOT NULL,
	`username` text NOT NULL,
	`display_name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `search_posts_post_idx` ON `search_posts` (`post_id`);
--> statement-breakpoint
CREATE INDEX `search_posts_user_idx` ON `search_posts` (`user_id`);
--> statement-breakpoint
CREATE VIRTUAL TABLE `search_posts_fts` USING fts5(
	title, username, display_name, genres, daw, key,
	content='search_posts', content_rowid='doc_id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5'
);
--> statement-breakpoint
CREATE TABLE `search_genres` (
	`genre` text PRIMARY KEY COLLATE NOCASE,
	`post_count` integer NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER `search_posts_ai` AFTER INSERT ON `search_posts` BEGIN
	INSERT INTO search_posts_fts(rowid, title, username, display_name, genres, daw, key)
		VALUES (new.doc_id, new.title, new.username, new.display_name, new.genres, new.daw, new.key);
	INSERT INTO search_genres(genre, post_count)
		SELECT trim(value), 1 FROM json_each(new.genres) WHERE type = 'text' AND trim(value) <> '' GROUP BY lower(trim(value))
		ON CONFLICT(genre) DO UPDATE SET post_count = post_count + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `search_posts_ad` AFTER DELETE ON `search_posts` BEGIN
	INSERT INTO search_posts_fts(search_posts_fts, rowid, title, username, display_name, genres, daw, key)
		VALUES ('delete', old.doc_id, old.title, old.username, old.display_name, old.genres, old.daw, old.key);
	UPDATE search_genres SET post_count = post_count - 1
		WHERE genre IN (SELECT trim(value) FROM json_each(old.genres) WHERE type = 'text');
	DELETE FROM search_genres WHERE genre IN (SELECT trim(value) FROM json_each(old.genres) WHERE type = 'text') AND post_count <= 0;
END;
--> statement-breakpoint
CREATE TRIGGER `search_posts_au` AFTER UPDATE ON `search_posts` BEGIN
	INSERT INTO search_posts_fts(search_posts_fts, rowid, title, username, display_name, genres, daw, key)
		VALUES ('delete', old.doc_id, old.title, old.username, old.display_name, old.genres, old.daw, old.key);
	INSERT INTO search_posts_fts(rowid, title, username, display_name, genres, daw, key)
		VALUES (new.doc_id, new.title, new.username, new.display_name, new.genres, new.daw, new.key);
END;
--> statement-breakpoint
CREATE TRIGGER `search_posts_au_genres` AFTER UPDATE OF `genres` ON `search_posts` WHEN old.genres IS NOT new.genres BEGIN
	UPDATE search_genres SET post_count = post_count - 1
		WHERE genre IN (SELECT trim(value) FROM json_each(old.genres) WHERE type = 'text');
	DELETE FROM search_genres WHERE genre IN (SELECT trim(value) FROM json_each(old.genres) WHERE type = 'text') AND post_count <= 0;
	INSERT INTO search_genres(genre, post_count)
		SELECT trim(value), 1 FROM json_each(new.genres) WHERE type = 'text' AND trim(value) <> '' GROUP BY lower(trim(value))
		ON CONFLICT(genre) DO UPDATE SET post_count = post_count + 1;
END;
--> statement-breakpoint
CREATE TABLE `search_users` (
	`doc_id` integer PRIMARY KEY,
	`user_id` text NOT NULL,
	`username` text NOT NULL,
	`display_name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `search_users_user_idx` ON `search_users` (`user_id`);
--> statement-breakpoint
CREATE VIRTUAL TABLE `search_users_fts` USING fts5(
	username, display_name,
	content='search_users', content_rowid='doc_id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5'
);
--> statement-breakpoint
CREATE TRIGGER `search_users_ai` AFTER INSERT ON `search_users` BEGIN
	INSERT INTO search_users_fts(rowid, username, display_name) VALUES (new.doc_id, new.username, new.display_name);
END;
--> statement-breakpoint
CREATE TRIGGER `search_users_ad` AFTER DELETE ON `search_users` BEGIN
	INSERT INTO search_users_fts(search_users_fts, rowid, username, display_name) VALUES ('delete', old.doc_id, old.username, old.display_name);
END;
--> statement-breakpoint
CREATE TRIGGER `search_users_au` AFTER UPDATE ON `search_users` BEGIN
	INSERT INTO search_users_fts(search_users_fts, rowid, username, display_name) VALUES ('delete', old.doc_id, old.username, old.display_name);
	INSERT INTO search_users_fts(rowid, username, display_name) VALUES (new.doc_id, new.username, new.display_name);
END;
--> statement-breakpoint
-- Existing accounts and ready loops, in the order they joined / were published.
INSERT INTO search_users(user_id, username, display_name)
	SELECT id, username, display_name FROM users WHERE suspended_at IS NULL AND approval = 'approved' ORDER BY created_at, id;
--> statement-breakpoint
INSERT INTO search_posts(post_id, user_id, bpm, key, daw, genres, duration_seconds, title, username, display_name)
	SELECT p.id, p.user_id, p.bpm, p.key, p.daw, p.genres, p.duration_seconds, p.title, u.username, u.display_name
	FROM posts p JOIN users u ON u.id = p.user_id WHERE p.status = 'ready' ORDER BY coalesce(p.ready_at, p.created_at), p.id;
--> statement-breakpoint
-- The source tables. A post is in the index exactly while it is ready (processing, failed, withheld while its
-- producer is suspended, and removed by staff are not); its counters (likes, plays) are not indexed, so reactions
-- and plays never touch the index.
CREATE TRIGGER `posts_search_ai` AFTER INSERT ON `posts` WHEN new.status = 'ready' BEGIN
	INSERT INTO search_posts(post_id, user_id, bpm, key, daw, genres, duration_seconds, title, username, display_name)
		SELECT new.id, new.user_id, new.bpm, new.key, new.daw, new.genres, new.duration_seconds, new.title, u.username, u.display_name
		FROM users u WHERE u.id = new.user_id;
END;
--> statement-breakpoint
CREATE TRIGGER `posts_search_au` AFTER UPDATE OF `status`, `title`, `bpm`, `key`, `daw`, `genres`, `duration_seconds`, `user_id` ON `posts` BEGIN
	DELETE FROM search_posts WHERE post_id = old.id AND new.status <> 'ready';
	UPDATE search_posts SET user_id = new.user_id, bpm = new.bpm, key = new.key, daw = new.daw, genres = new.genres,
		duration_seconds = new.duration_seconds, title = new.title
		WHERE post_id = old.id AND new.status = 'ready';
	INSERT INTO search_posts(post_id, user_id, bpm, key, daw, genres, duration_seconds, title, username, display_name)
		SELECT new.id, new.user_id, new.bpm, new.key, new.daw, new.genres, new.duration_seconds, new.title, u.username, u.display_name
		FROM users u WHERE u.id = new.user_id AND new.status = 'ready' AND NOT EXISTS (SELECT 1 FROM search_posts WHERE post_id = new.id);
END;
--> statement-breakpoint
CREATE TRIGGER `posts_search_ad` AFTER DELETE ON `posts` BEGIN
	DELETE FROM search_posts WHERE post_id = old.id;
END;
--> statement-breakpoint
CREATE TRIGGER `users_search_ai` AFTER INSERT ON `users` WHEN new.suspended_at IS NULL AND new.approval = 'approved' BEGIN
	INSERT INTO search_users(user_id, username, display_name) VALUES (new.id, new.username, new.display_name);
END;
--> statement-breakpoint
CREATE TRIGGER `users_search_au` AFTER UPDATE OF `username`, `display_name`, `suspended_at`, `approval` ON `users` BEGIN
	DELETE FROM search_users WHERE user_id = old.id AND NOT (new.suspended_at IS NULL AND new.approval = 'approved');
	UPDATE search_users SET username = new.username, display_name = new.display_name
		WHERE user_id = old.id AND new.suspended_at IS NULL AND new.approval = 'approved'
		AND (username IS NOT new.username OR display_name IS NOT new.display_name);
	INSERT INTO search_users(user_id, username, display_name)
		SELECT new.id, new.username, new.display_name WHERE new.suspended_at IS NULL AND new.approval = 'approved'
		AND NOT EXISTS (SELECT 1 FROM search_users WHERE user_id = new.id);
	UPDATE search_posts SET username = new.username, display_name = new.display_name
		WHERE user_id = new.id AND (old.username IS NOT new.username OR old.display_name IS NOT new.display_name);
END;
--> statement-breakpoint
CREATE TRIGGER `users_search_ad` AFTER DELETE ON `users` BEGIN
	DELETE FROM search_users WHERE user_id = old.id;
	DELETE FROM search_posts WHERE user_id = old.id;
END;
