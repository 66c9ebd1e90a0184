-- The keyset index of 0006 (custom) is now declared in the schema; IF NOT EXISTS keeps the one 0006 made.
-- (dag_id, logical_date desc) is a prefix of it and goes.
DROP INDEX IF EXISTS "dag_run_dag_id_logical_date_idx";--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "dag_run_dag_id_logical_date_id_idx" ON "dag_run" USING btree ("dag_id","logical_date" DESC NULLS FIRST,"id" DESC NULLS FIRST);