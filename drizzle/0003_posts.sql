CREATE TABLE `posts` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`error_code` text,
	`title` text DEFAULT '' NOT NULL,
	`bpm` real,
	`key` text DEFAULT '' NOT NULL,
	`daw` text DEFAULT '' NOT NULL,
	`genres` text DEFAULT '[]' NOT NULL,
	`duration_bars` integer,
	`comment_audience` text DEFAULT 'everyone' NOT NULL,
	`recording_id` text,
	`idempotency_key` text,
	`original_key` text NOT NULL,
	`original_format` text NOT NULL,
	`original_bytes` integer NOT NULL,
	`audio_key` text NOT NULL,
	`peaks_key` text NOT NULL,
	`waveform_key` text NOT NULL,
	`loudness_lufs` real,
	`true_peak_db` real,
	`duration_seconds` real,
	`sample_count` integer,
	`sample_rate` integer,
	`channels` integer,
	`gain_mode` text,
	`input_lufs` real,
	`like_count` integer DEFAULT 0 NOT NULL,
	`play_count` integer DEFAULT 0 NOT NULL,
	`comment_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`ready_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `posts_user_recording` ON `posts` (`user_id`,`recording_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `posts_user_idempotency` ON `posts` (`user_id`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `posts_feed_idx` ON `posts` (`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `posts_user_feed_idx` ON `posts` (`user_id`,`status`,`created_at`,`id`);