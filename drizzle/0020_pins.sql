ALTER TABLE `posts` ADD `pin_order` integer;--> statement-breakpoint
CREATE INDEX `posts_pinned_idx` ON `posts` (`user_id`,`pin_order`) WHERE pin_order IS NOT NULL;