-- 5: the shared send schedule. This backend keeps it in the process (one process per file); the table is here so
-- that both dialects have the same versions.
CREATE TABLE scenebot_rate (bucket TEXT PRIMARY KEY, tat_ms INTEGER NOT NULL);
