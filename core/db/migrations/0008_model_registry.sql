CREATE TABLE "model_version" (
	"version" text PRIMARY KEY NOT NULL,
	"model_name" text NOT NULL,
	"stage" text DEFAULT 'candidate' NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"backend" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"data_location" text,
	"row_counts" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metrics" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"duration_ms" integer,
	"artifact_path" text,
	"dag_id" text,
	"run_id" text,
	"created_at" timestamp (6) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp (6) with time zone,
	"promoted_at" timestamp (6) with time zone,
	"promoted_by" text,
	"error" text,
	CONSTRAINT "model_version_stage_check" CHECK ("model_version"."stage" in ('candidate', 'production', 'archived', 'failed')),
	CONSTRAINT "model_version_status_check" CHECK ("model_version"."status" in ('running', 'succeeded', 'failed')),
	CONSTRAINT "model_version_production_succeeded_check" CHECK ("model_version"."stage" <> 'production' or "model_version"."status" = 'succeeded')
);
--> statement-breakpoint
CREATE UNIQUE INDEX "model_version_one_production_key" ON "model_version" USING btree ("model_name") WHERE stage = 'production';--> statement-breakpoint
CREATE INDEX "model_version_created_at_idx" ON "model_version" USING btree ("created_at" DESC NULLS FIRST,"version" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "model_version_stage_created_at_idx" ON "model_version" USING btree ("stage","created_at" DESC NULLS FIRST,"version" DESC NULLS FIRST);