-- 2: the daily scene.
CREATE TABLE daily_schedules (
    guild_id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    time TEXT NOT NULL,
    timezone TEXT NOT NULL,
    role_id INTEGER,
    locale TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    paused INTEGER NOT NULL DEFAULT 0,
    active_since INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_post_at INTEGER,
    bag TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE daily_posts (
    guild_id INTEGER NOT NULL,
    local_date TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'failed', 'skipped')),
    scene_id TEXT,
    message_id INTEGER,
    claimed_at INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (guild_id, local_date)
);
