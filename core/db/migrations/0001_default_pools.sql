-- The two pools every install has: CPU tasks, and GPU training (one slot per GPU host by default).
INSERT INTO "pool" ("name", "slots", "description") VALUES
  ('default', 128, 'CPU tasks'),
  ('gpu', 1, 'GPU training')
ON CONFLICT ("name") DO NOTHING;
