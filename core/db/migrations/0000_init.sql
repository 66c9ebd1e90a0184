CREATE TABLE "dag" (
	"dag_id" text PRIMARY KEY NOT NULL,
	"fileloc" text NOT NULL,
	"schedule" text,
	"timezone" text NOT NULL,
	"catchup" boolean NOT NULL,
	"start_date" timestamp with time zone,
	"end_date" timestamp with time zone,
	"max_active_runs" integer NOT NULL,
	"max_active_tasks" integer NOT NULL,
	"tags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"description" text,
	"tasks" jsonb NOT NULL,
	"is_paused" boolean DEFAULT false NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"next_dagrun" timestamp with time zone,
	"next_dagrun_create_after" timestamp with time zone,
	"last_parsed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "import_error" (
	"filename" text PRIMARY KEY NOT NULL,
	"message" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dag_run" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"dag_id" text NOT NULL,
	"run_id" text NOT NULL,
	"run_type" text NOT NULL,
	"logical_date" timestamp with time zone NOT NULL,
	"data_interval_start" timestamp with time zone NOT NULL,
	"data_interval_end" timestamp with time zone NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"conf" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"start_date" timestamp with time zone,
	"end_date" timestamp with time zone,
	"triggered_by" text
);
--> statement-breakpoint
CREATE TABLE "task_instance" (
	"dag_run_id" bigint NOT NULL,
	"task_id" text NOT NULL,
	"dag_id" text NOT NULL,
	"run_id" text NOT NULL,
	"state" text DEFAULT 'none' NOT NULL,
	"try_number" integer DEFAULT 0 NOT NULL,
	"max_tries" integer NOT NULL,
	"pool" text NOT NULL,
	"priority_weight" integer NOT NULL,
	"queued_at" timestamp (6) with time zone,
	"start_date" timestamp (6) with time zone,
	"end_date" timestamp (6) with time zone,
	"duration_ms" double precision,
	"hostname" text,
	"pid" integer,
	"heartbeat_at" timestamp with time zone,
	"next_retry_at" timestamp with time zone,
	"output" jsonb,
	"error" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_instance_dag_run_id_task_id_pk" PRIMARY KEY("dag_run_id","task_id")
);
--> statement-breakpoint
CREATE TABLE "task_try" (
	"dag_run_id" bigint NOT NULL,
	"task_id" text NOT NULL,
	"try_number" integer NOT NULL,
	"state" text NOT NULL,
	"start_date" timestamp (6) with time zone,
	"end_date" timestamp (6) with time zone,
	"duration_ms" double precision,
	"hostname" text,
	"pid" integer,
	"output" jsonb,
	"error" text,
	CONSTRAINT "task_try_dag_run_id_task_id_try_number_pk" PRIMARY KEY("dag_run_id","task_id","try_number")
);
--> statement-breakpoint
CREATE TABLE "task_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"dag_run_id" bigint NOT NULL,
	"task_id" text NOT NULL,
	"try_number" integer NOT NULL,
	"logged_at" timestamp (6) with time zone NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pool" (
	"name" text PRIMARY KEY NOT NULL,
	"slots" integer NOT NULL,
	"description" text
);
--> statement-breakpoint
ALTER TABLE "dag_run" ADD CONSTRAINT "dag_run_dag_id_dag_dag_id_fk" FOREIGN KEY ("dag_id") REFERENCES "public"."dag"("dag_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_instance" ADD CONSTRAINT "task_instance_dag_run_id_dag_run_id_fk" FOREIGN KEY ("dag_run_id") REFERENCES "public"."dag_run"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_try" ADD CONSTRAINT "task_try_dag_run_id_dag_run_id_fk" FOREIGN KEY ("dag_run_id") REFERENCES "public"."dag_run"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_log" ADD CONSTRAINT "task_log_dag_run_id_dag_run_id_fk" FOREIGN KEY ("dag_run_id") REFERENCES "public"."dag_run"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "dag_run_dag_id_run_id_key" ON "dag_run" USING btree ("dag_id","run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "dag_run_dag_id_logical_date_key" ON "dag_run" USING btree ("dag_id","logical_date") WHERE run_type in ('scheduled', 'backfill');--> statement-breakpoint
CREATE INDEX "dag_run_state_idx" ON "dag_run" USING btree ("state");--> statement-breakpoint
CREATE INDEX "dag_run_dag_id_logical_date_idx" ON "dag_run" USING btree ("dag_id","logical_date" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "task_instance_dag_id_state_idx" ON "task_instance" USING btree ("dag_id","state");--> statement-breakpoint
CREATE INDEX "task_instance_active_idx" ON "task_instance" USING btree ("state","heartbeat_at") WHERE state in ('queued', 'running', 'up_for_retry', 'scheduled');--> statement-breakpoint
CREATE INDEX "task_log_try_idx" ON "task_log" USING btree ("dag_run_id","task_id","try_number","id");