-- Experiments, and the feedback schema: impressions, client events, conversions (partitioned by
-- day: drizzle-kit cannot say so, `PARTITION BY RANGE ("day")` is added by hand), exposures, and
-- the functions that create a day's partitions on first write and drop those past the retention.
CREATE SCHEMA "feedback";
--> statement-breakpoint
CREATE TABLE "experiment" (
	"key" text PRIMARY KEY NOT NULL,
	"variants" jsonb NOT NULL,
	"rows" text[] NOT NULL,
	"description" text,
	"start_at" timestamp with time zone NOT NULL,
	"end_at" timestamp with time zone,
	"stopped_at" timestamp with time zone,
	"stopped_by" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "experiment_key_format" CHECK ("experiment"."key" ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
	CONSTRAINT "experiment_end_after_start" CHECK ("experiment"."end_at" is null or "experiment"."end_at" > "experiment"."start_at")
);
--> statement-breakpoint
CREATE TABLE "feedback"."event" (
	"day" date NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"member_id" text NOT NULL,
	"class_id" text NOT NULL,
	"row" text NOT NULL,
	"position" integer NOT NULL,
	"publication_id" bigint,
	"model_version" text,
	"experiment_key" text,
	"variant" text,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_day_event_id_pk" PRIMARY KEY("day","event_id")
) PARTITION BY RANGE ("day");
--> statement-breakpoint
CREATE TABLE "feedback"."conversion" (
	"day" date NOT NULL,
	"workout_id" bigint NOT NULL,
	"member_id" text NOT NULL,
	"class_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"served_at" timestamp with time zone NOT NULL,
	"row" text NOT NULL,
	"position" integer NOT NULL,
	"publication_id" bigint,
	"model_version" text,
	"experiment_key" text,
	"variant" text,
	"attributed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "conversion_day_workout_id_pk" PRIMARY KEY("day","workout_id")
) PARTITION BY RANGE ("day");
--> statement-breakpoint
CREATE TABLE "feedback"."exposure" (
	"experiment_key" text NOT NULL,
	"member_id" text NOT NULL,
	"variant" text NOT NULL,
	"exposed_at" timestamp with time zone NOT NULL,
	"publication_id" bigint,
	CONSTRAINT "exposure_experiment_key_member_id_pk" PRIMARY KEY("experiment_key","member_id")
);
--> statement-breakpoint
CREATE TABLE "feedback"."impression" (
	"day" date NOT NULL,
	"served_at" timestamp with time zone NOT NULL,
	"member_id" text NOT NULL,
	"row" text NOT NULL,
	"position" integer NOT NULL,
	"class_id" text NOT NULL,
	"publication_id" bigint,
	"model_version" text,
	"experiment_key" text,
	"variant" text,
	"source" text NOT NULL,
	CONSTRAINT "impression_day_member_id_row_position_class_id_pk" PRIMARY KEY("day","member_id","row","position","class_id")
) PARTITION BY RANGE ("day");

--> statement-breakpoint
-- Impressions are the hot table: besides the primary key (day, member: what attribution and the
-- ignore counts look up) one partial index, over the rows an experiment ranked only.
CREATE INDEX "impression_experiment_idx" ON "feedback"."impression" ("experiment_key", "variant") WHERE "experiment_key" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "conversion_experiment_idx" ON "feedback"."conversion" ("experiment_key", "variant");
--> statement-breakpoint
CREATE INDEX "event_experiment_idx" ON "feedback"."event" ("experiment_key", "variant");
--> statement-breakpoint
-- One partition per table and UTC day, from `from_day` to `to_day` inclusive. Safe to call from
-- many processes at once: a partition another session created meanwhile is not an error.
CREATE FUNCTION feedback.ensure_partitions(from_day date, to_day date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d date;
  t text;
BEGIN
  d := from_day;
  WHILE d <= to_day LOOP
    FOREACH t IN ARRAY ARRAY['impression', 'event', 'conversion'] LOOP
      IF to_regclass(format('feedback.%I', t || '_' || to_char(d, 'YYYYMMDD'))) IS NULL THEN
        BEGIN
          EXECUTE format('CREATE TABLE IF NOT EXISTS feedback.%I PARTITION OF feedback.%I FOR VALUES FROM (%L) TO (%L)',
            t || '_' || to_char(d, 'YYYYMMDD'), t, d, d + 1);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
          NULL;
        END;
      END IF;
    END LOOP;
    d := d + 1;
  END LOOP;
END $$;
--> statement-breakpoint
-- Drops every day partition of the feedback tables that ends on or before `before_day`; returns how many.
CREATE FUNCTION feedback.drop_partitions_before(before_day date) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  r record;
  dropped integer := 0;
BEGIN
  FOR r IN
    SELECT c.relname FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_namespace n ON n.oid = p.relnamespace
    WHERE n.nspname = 'feedback' AND p.relname IN ('impression', 'event', 'conversion')
      AND c.relname ~ '_[0-9]{8}$' AND to_date(right(c.relname, 8), 'YYYYMMDD') < before_day
  LOOP
    EXECUTE format('DROP TABLE feedback.%I', r.relname);
    dropped := dropped + 1;
  END LOOP;
  RETURN dropped;
END $$;
