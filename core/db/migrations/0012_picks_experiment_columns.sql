-- The published picks carry, per row, the experiment and the variant that ranked it: two
-- nullable columns (null on rows no experiment covers and on every set published before).
-- Publish creates new sets with them, appended after the old columns, so `create or replace
-- view` can repoint `picks` at a new set. Every set kept (current, previous, staged) gets them
-- here too (nullable without a default: a catalogue change, no rewrite), so a rollback to a set
-- published before this migration does not have to drop columns from the view, which
-- PostgreSQL refuses. The views are recreated because `select *` is expanded when a view is
-- made: the new columns show only in a view made after they exist. Hand-written (drizzle-kit
-- knows neither the per-publication tables nor the views' definitions).
DO $$
DECLARE
  set_table record;
  view_name text;
  view_table text;
BEGIN
  FOR set_table IN
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'picks\_set\_%'
  LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS experiment_key text, ADD COLUMN IF NOT EXISTS variant text', set_table.relname);
  END LOOP;
  FOREACH view_name IN ARRAY ARRAY['picks', 'picks_previous'] LOOP
    IF to_regclass(view_name) IS NOT NULL THEN
      SELECT DISTINCT c.oid::regclass::text INTO view_table FROM pg_rewrite r
        JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
        JOIN pg_class c ON c.oid = d.refobjid AND c.relkind = 'r'
        WHERE r.ev_class = view_name::regclass;
      EXECUTE format('CREATE OR REPLACE VIEW %I AS SELECT * FROM %s', view_name, view_table);
    END IF;
  END LOOP;
END $$;
