-- 8: "on this day" and threads (issue 28). A day's post that was a special card keeps its occasion in `special`
-- ('birthday', 'kiss-episode', 'premiere', 'finale'; NULL for a scene drawn from the bag), `scene_id` then holding
-- the anniversary's scene (NULL for the birthday). `thread` is how the day's thread went ('opened', or why it was
-- skipped: 'no-permission', 'failed'); NULL when none was asked for. A schedule's `thread` turns threads on, and
-- `thread_problem` keeps why the last one was skipped, for /daily status. A poll keeps whether its results get a
-- thread, and how it went.
ALTER TABLE daily_posts ADD COLUMN special TEXT;
ALTER TABLE daily_posts ADD COLUMN thread TEXT;
ALTER TABLE daily_schedules ADD COLUMN thread INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_schedules ADD COLUMN thread_problem TEXT;
ALTER TABLE favorite_polls ADD COLUMN thread INTEGER NOT NULL DEFAULT 0;
ALTER TABLE favorite_polls ADD COLUMN thread_state TEXT;
