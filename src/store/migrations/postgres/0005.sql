-- 5: the shared send schedule: one row per bucket, its tat in milliseconds on the database's clock.
CREATE TABLE scenebot_rate (bucket TEXT PRIMARY KEY, tat_ms BIGINT NOT NULL);
INSERT INTO scenebot_rate (bucket, tat_ms) VALUES ('global', 0);
