CREATE TABLE "problems" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"fingerprint" text NOT NULL,
	"code" text NOT NULL,
	"route" text NOT NULL,
	"frame" text DEFAULT '' NOT NULL,
	"message" text NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"count" integer DEFAULT 0 NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"sample_request_id" text,
	"sample_trace_id" text,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "problems_fingerprint_idx" ON "problems" USING btree ("fingerprint");--> statement-breakpoint
CREATE INDEX "problems_last_seen_idx" ON "problems" USING btree ("last_seen");