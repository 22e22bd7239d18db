-- 1: favorite polls.
CREATE TABLE favorite_polls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    message_id INTEGER,
    started_by INTEGER NOT NULL,
    locale TEXT NOT NULL,
    scene_ids TEXT NOT NULL,
    hours INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('posting', 'running', 'ended', 'announced', 'cancelled')),
    tally TEXT,
    result_message_id INTEGER,
    problem TEXT,
    finished_at INTEGER
);
CREATE UNIQUE INDEX favorite_polls_one_open ON favorite_polls (guild_id)
    WHERE state IN ('posting', 'running', 'ended');
CREATE INDEX favorite_polls_by_guild ON favorite_polls (guild_id, state);
