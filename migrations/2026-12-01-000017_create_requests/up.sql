-- A create sent again with the same Idempotency-Key (a client retrying after an answer it never
-- got) is answered with the filing the first one made instead of making a second draft. The
-- key is the applicant's own; the request's SHA-256 tells a retry from a key used twice.
CREATE TABLE create_requests (
    applicant_id uuid NOT NULL REFERENCES users (id),
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 64),
    request_sha256 text NOT NULL CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
    filing_id uuid NOT NULL REFERENCES filings (id),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (applicant_id, key)
);
