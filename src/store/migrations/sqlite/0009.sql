-- 9: /quiz. A round is stored whole before its first question is shown, so a restart resumes it or ends it with
-- its scores kept: its questions (JSON: kind code, scene, option scenes, the right one's position), the interaction
-- token its messages are sent and edited with (valid 15 minutes; useless after), each question's close and message
-- once opened, each answer once (one per round, question and person), and the reveal state.
CREATE TABLE quiz_rounds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL for a solo round (a DM, a user install): it has no board.
    guild_id INTEGER,
    channel_id INTEGER NOT NULL,
    -- 'channel:<id>' for a public round, 'user:<id>' for a solo one: one running round in each.
    lane TEXT NOT NULL,
    started_by INTEGER NOT NULL,
    locale TEXT NOT NULL,
    questions TEXT NOT NULL,
    application_id INTEGER NOT NULL,
    token TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    -- running, finished or stopped.
    state TEXT NOT NULL,
    stop_requested BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at INTEGER,
    scores_posted BOOLEAN NOT NULL DEFAULT FALSE,
    lease_owner TEXT,
    lease_until INTEGER
);
CREATE UNIQUE INDEX quiz_rounds_one_running ON quiz_rounds (lane) WHERE state = 'running';
CREATE INDEX quiz_rounds_by_lane ON quiz_rounds (lane, ended_at);
CREATE TABLE quiz_questions (
    round_id INTEGER NOT NULL REFERENCES quiz_rounds (id),
    position INTEGER NOT NULL,
    closes_at_ms INTEGER NOT NULL,
    message_id INTEGER,
    revealed BOOLEAN NOT NULL DEFAULT FALSE,
    -- whether the message shows the reveal (an edit the bot repeats after a restart until it is made).
    shown BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (round_id, position)
);
CREATE TABLE quiz_answers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    round_id INTEGER NOT NULL REFERENCES quiz_rounds (id),
    position INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    choice INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    UNIQUE (round_id, position, user_id)
);
-- A server's all-time board, added to once per round, in the transaction that ends it.
CREATE TABLE quiz_board (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    points INTEGER NOT NULL,
    right_answers INTEGER NOT NULL,
    firsts INTEGER NOT NULL,
    rounds INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
