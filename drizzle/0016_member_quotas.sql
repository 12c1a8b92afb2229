ALTER TABLE `users` ADD `upload_quota_per_day` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `upload_quota_mb` integer;