CREATE TABLE "site_profile" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"name" text NOT NULL,
	"headline" text DEFAULT '' NOT NULL,
	"intro_markdown" text DEFAULT '' NOT NULL,
	"intro_html" text DEFAULT '' NOT NULL,
	"avatar_media_id" uuid,
	"location" text DEFAULT '' NOT NULL,
	"links" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"site_title" text NOT NULL,
	"site_description" text DEFAULT '' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" uuid
);
--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "preview_media_id" uuid;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "demo_session_id" uuid;--> statement-breakpoint
ALTER TABLE "site_profile" ADD CONSTRAINT "site_profile_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;