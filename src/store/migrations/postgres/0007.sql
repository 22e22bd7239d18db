-- 7: a server's own choices. `language` is the language of what the bot posts publicly there (polls, results,
-- daily posts): 'en-US', 'ko', or NULL for "decide" (the server's Community locale, else the moderator's).
CREATE TABLE server_settings (
    guild_id BIGINT PRIMARY KEY,
    language TEXT CHECK (language IN ('en-US', 'ko')),
    updated_at BIGINT NOT NULL
);
