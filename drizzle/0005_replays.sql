ALTER TABLE "terminal_sessions" ADD COLUMN "commands" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "terminal_sessions" ADD COLUMN "published_at" timestamp with time zone;