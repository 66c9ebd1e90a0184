CREATE SCHEMA "source";
--> statement-breakpoint
CREATE TABLE "picks" (
	"member_id" text NOT NULL,
	"row" text NOT NULL,
	"position" integer NOT NULL,
	"class_id" text NOT NULL,
	"score" real NOT NULL,
	"reason" text NOT NULL,
	"model_version" text NOT NULL,
	"run_id" text NOT NULL,
	"generated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "picks_pkey" PRIMARY KEY("member_id","row","position")
);
--> statement-breakpoint
CREATE TABLE "picks_previous" (
	"member_id" text NOT NULL,
	"row" text NOT NULL,
	"position" integer NOT NULL,
	"class_id" text NOT NULL,
	"score" real NOT NULL,
	"reason" text NOT NULL,
	"model_version" text NOT NULL,
	"run_id" text NOT NULL,
	"generated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "picks_previous_pkey" PRIMARY KEY("member_id","row","position")
);
--> statement-breakpoint
CREATE TABLE "picks_publication" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"dag_id" text NOT NULL,
	"run_id" text NOT NULL,
	"model_version" text NOT NULL,
	"generated_at" timestamp with time zone NOT NULL,
	"published_at" timestamp with time zone DEFAULT now() NOT NULL,
	"status" text NOT NULL,
	"member_count" integer NOT NULL,
	"pick_count" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "source"."member" (
	"member_id" text PRIMARY KEY NOT NULL,
	"signup_at" timestamp with time zone,
	"timezone" text
);
--> statement-breakpoint
CREATE TABLE "source"."instructor" (
	"instructor_id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "source"."class" (
	"class_id" text PRIMARY KEY NOT NULL,
	"title" text NOT NULL,
	"discipline" text,
	"duration_min" integer,
	"instructor_id" text,
	"language" text,
	"difficulty" text,
	"aired_at" timestamp with time zone,
	"is_encore" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "source"."workout" (
	"workout_id" bigserial PRIMARY KEY NOT NULL,
	"member_id" text NOT NULL,
	"class_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"completion" real
);
--> statement-breakpoint
CREATE UNIQUE INDEX "picks_publication_dag_id_run_id_key" ON "picks_publication" USING btree ("dag_id","run_id");--> statement-breakpoint
CREATE INDEX "picks_publication_status_idx" ON "picks_publication" USING btree ("status");--> statement-breakpoint
CREATE INDEX "class_aired_at_idx" ON "source"."class" USING btree ("aired_at");--> statement-breakpoint
CREATE INDEX "workout_started_at_idx" ON "source"."workout" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "workout_member_id_started_at_idx" ON "source"."workout" USING btree ("member_id","started_at");