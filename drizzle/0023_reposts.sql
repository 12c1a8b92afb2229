CREATE TABLE `reposts` (
	`user_id` text NOT NULL,
	`post_id` text NOT NULL,
	`quote` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `post_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`post_id`) REFERENCES `posts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `reposts_user_idx` ON `reposts` (`user_id`,`created_at`,`post_id`);--> statement-breakpoint
CREATE INDEX `reposts_post_idx` ON `reposts` (`post_id`,`created_at`,`user_id`);--> statement-breakpoint
CREATE INDEX `reposts_created_idx` ON `reposts` (`created_at`,`post_id`);--> statement-breakpoint
ALTER TABLE `posts` ADD `repost_count` integer DEFAULT 0 NOT NULL;