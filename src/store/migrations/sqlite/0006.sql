-- 6: when the results of a poll were last about to be sent. Only a poll with an attempt recorded can have its
-- results in the channel already, so only such a poll is searched for them, and from that moment on. A poll that
-- ended under an older version is searched from its end.
ALTER TABLE favorite_polls ADD COLUMN results_attempt_at INTEGER;
UPDATE favorite_polls SET results_attempt_at = ends_at WHERE state = 'ended';
