ALTER TABLE `sessions` ADD `access_token_id` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `previous_access_token_id` text;--> statement-breakpoint
ALTER TABLE `sign_in_requests` ADD `authenticated_at` integer;