-- `picks` and `picks_previous` become views over one table per publication (picks_set_<id>),
-- so a publish repoints a view instead of renaming tables: grants on `picks` and views built
-- on it survive every publish. The published sets are kept; score becomes double precision
-- (the cache and the table then give the same number). Hand-written: drizzle-kit sees only
-- that the two tables left the schema (they are pgView(...).existing() there now).
DO $$
DECLARE
  current_table text := 'picks_set_' || coalesce((SELECT id::text FROM picks_publication WHERE status = 'current' LIMIT 1), 'initial');
  previous_table text := 'picks_set_' || coalesce((SELECT id::text FROM picks_publication WHERE status = 'previous' LIMIT 1), 'initial_previous');
BEGIN
  EXECUTE format('ALTER TABLE picks RENAME TO %I', current_table);
  EXECUTE format('ALTER INDEX picks_pkey RENAME TO %I', current_table || '_pkey');
  EXECUTE format('ALTER TABLE picks_previous RENAME TO %I', previous_table);
  EXECUTE format('ALTER INDEX picks_previous_pkey RENAME TO %I', previous_table || '_pkey');
  EXECUTE format('ALTER TABLE %I ALTER COLUMN score TYPE double precision', current_table);
  EXECUTE format('ALTER TABLE %I ALTER COLUMN score TYPE double precision', previous_table);
  EXECUTE format('CREATE VIEW picks AS SELECT * FROM %I', current_table);
  EXECUTE format('CREATE VIEW picks_previous AS SELECT * FROM %I', previous_table);
END $$;
