-- Login throttling by the name typed, whether or not an account has it: a locked name answers
-- the same for known and unknown accounts, so the lockout does not reveal which names exist.
-- (Expand: users.failed_logins and users.locked_until are no longer written; a later migration
-- drops them once no running version reads them.)
CREATE TABLE login_throttle (
    username     text PRIMARY KEY,
    failures     integer NOT NULL,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);
