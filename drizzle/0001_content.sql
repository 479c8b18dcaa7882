ALTER TABLE "media" ADD COLUMN "sha256" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "binary" text DEFAULT '' NOT NULL;