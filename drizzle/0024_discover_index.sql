CREATE TABLE `post_genres` (
	`genre` text NOT NULL,
	`doc_id` integer NOT NULL,
	`post_id` text NOT NULL,
	`user_id` text NOT NULL,
	`key_class` integer,
	`bpm` real
);
--> statement-breakpoint
CREATE UNIQUE INDEX `post_genres_genre_idx` ON `post_genres` (`genre`,`doc_id`,`user_id`,`post_id`);--> statement-breakpoint
CREATE INDEX `post_genres_similar_idx` ON `post_genres` (`genre`,`key_class`,`bpm`,`doc_id`,`user_id`,`post_id`);--> statement-breakpoint
CREATE INDEX `post_genres_post_idx` ON `post_genres` (`post_id`);--> statement-breakpoint
CREATE INDEX `users_popular_idx` ON `users` (`follower_count`,`id`);