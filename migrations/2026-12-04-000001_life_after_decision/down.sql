DROP INDEX applicant_deadlines_expiring;
ALTER TABLE applicant_deadlines DROP COLUMN expires_with, DROP COLUMN extensions;
DELETE FROM users WHERE id = '00000000-0000-0000-0000-000000000001';
ALTER TABLE users DROP CONSTRAINT users_kind_check;
ALTER TABLE users ADD CONSTRAINT users_kind_check
    CHECK (kind IN ('person', 'company', 'staff'));
