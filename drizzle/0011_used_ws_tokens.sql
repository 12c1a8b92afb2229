CREATE TABLE `used_ws_tokens` (
	`jti` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `used_ws_tokens_expires_idx` ON `used_ws_tokens` (`expires_at`);