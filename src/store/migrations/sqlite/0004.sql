-- 4: each poll answer's scene, kept when the poll is posted, so a dataset edit cannot unmatch a running poll.
ALTER TABLE favorite_polls ADD COLUMN answer_ids TEXT;
