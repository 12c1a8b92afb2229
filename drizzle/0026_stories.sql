CREATE TABLE `highlight_stories` (
	`highlight_id` text NOT NULL,
	`story_id` text NOT NULL,
	`added_at` integer NOT NULL,
	PRIMARY KEY(`highlight_id`, `story_id`),
	FOREIGN KEY (`highlight_id`) REFERENCES `story_highlights`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`story_id`) REFERENCES `stories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `highlight_stories_story_idx` ON `highlight_stories` (`story_id`,`highlight_id`);--> statement-breakpoint
CREATE TABLE `stories` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`status` text NOT NULL,
	`error_code` text,
	`error` text,
	`title` text DEFAULT '' NOT NULL,
	`bpm` real,
	`key` text DEFAULT '' NOT NULL,
	`genres` text DEFAULT '[]' NOT NULL,
	`midi_data` text,
	`idempotency_key` text,
	`original_key` text NOT NULL,
	`original_format` text NOT NULL,
	`original_bytes` integer NOT NULL,
	`audio_key` text NOT NULL,
	`ogg_key` text NOT NULL,
	`peaks_key` text NOT NULL,
	`waveform_key` text NOT NULL,
	`waveform_png_key` text NOT NULL,
	`duration_seconds` real,
	`view_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `stories_author_idx` ON `stories` (`user_id`,`status`,`expires_at`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `stories_user_idempotency` ON `stories` (`user_id`,`idempotency_key`);--> statement-breakpoint
CREATE TABLE `story_highlights` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`sort_order` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `story_highlights_user_idx` ON `story_highlights` (`user_id`,`sort_order`,`created_at`);--> statement-breakpoint
CREATE TABLE `story_views` (
	`story_id` text NOT NULL,
	`viewer_id` text NOT NULL,
	`viewed_at` integer NOT NULL,
	PRIMARY KEY(`story_id`, `viewer_id`),
	FOREIGN KEY (`story_id`) REFERENCES `stories`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`viewer_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `story_views_story_idx` ON `story_views` (`story_id`,`viewed_at`);