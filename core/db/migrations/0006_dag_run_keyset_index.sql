-- Runs of a DAG in the order the API and UI page through them (newest logical date first, ties by
-- id): with id in the index, a page is an ordered index range scan that stops after `limit` rows,
-- at any depth. (dag_id, logical_date desc) alone makes PostgreSQL read every row past the cursor
-- and sort them. Custom migration: the index is not declared in core/db/schema/dag-run.ts.
CREATE INDEX IF NOT EXISTS "dag_run_dag_id_logical_date_id_idx" ON "dag_run" USING btree ("dag_id", "logical_date" DESC, "id" DESC);
