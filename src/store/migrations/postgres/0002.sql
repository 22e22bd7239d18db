-- 2: the daily scene.
CREATE TABLE daily_schedules (
    guild_id BIGINT PRIMARY KEY,
    channel_id BIGINT NOT NULL,
    time TEXT NOT NULL,
    timezone TEXT NOT NULL,
    role_id BIGINT,
    locale TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    active_since BIGINT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    last_post_at BIGINT,
    bag TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE daily_posts (
    guild_id BIGINT NOT NULL,
    local_date TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'failed', 'skipped')),
    scene_id TEXT,
    message_id BIGINT,
    claimed_at BIGINT NOT NULL,
    error TEXT,
    PRIMARY KEY (guild_id, local_date)
);
