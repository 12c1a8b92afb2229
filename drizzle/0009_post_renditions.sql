ALTER TABLE `posts` ADD `ogg_key` text;--> statement-breakpoint
ALTER TABLE `posts` ADD `waveform_png_key` text;