DROP INDEX `posts_feed_idx`;--> statement-breakpoint
CREATE INDEX `posts_feed_author_idx` ON `posts` (`status`,`created_at`,`id`,`user_id`);--> statement-breakpoint
CREATE INDEX `posts_user_created_idx` ON `posts` (`user_id`,`created_at`,`id`);