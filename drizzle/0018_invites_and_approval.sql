CREATE TABLE `invites` (
	`id` text PRIMARY KEY NOT NULL,
	`code_hash` text NOT NULL,
	`creator_id` text NOT NULL,
	`max_uses` integer NOT NULL,
	`uses` integer DEFAULT 0 NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`creator_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `invites_code_hash_unique` ON `invites` (`code_hash`);--> statement-breakpoint
CREATE INDEX `invites_creator_idx` ON `invites` (`creator_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `users` ADD `approval` text DEFAULT 'approved' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `signup_note` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `invite_id` text;--> statement-breakpoint
CREATE INDEX `users_approval_idx` ON `users` (`approval`,`created_at`);