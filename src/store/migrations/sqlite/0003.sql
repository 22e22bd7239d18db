-- 3: leases, so several processes can share the work.
ALTER TABLE favorite_polls ADD COLUMN lease_owner TEXT;
ALTER TABLE favorite_polls ADD COLUMN lease_until INTEGER;
ALTER TABLE daily_posts ADD COLUMN lease_owner TEXT;
ALTER TABLE daily_posts ADD COLUMN lease_until INTEGER;
