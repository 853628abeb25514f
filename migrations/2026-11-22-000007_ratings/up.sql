-- 好差评: the applicant rates a closed filing once, from 1 (very dissatisfied) to 5 (very
-- satisfied); the rating is part of the filing's record and audited.
CREATE TABLE ratings (
    filing_id uuid PRIMARY KEY REFERENCES filings (id),
    score smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment text CHECK (char_length(comment) <= 2000),
    rated_by uuid NOT NULL REFERENCES users (id),
    rated_at timestamptz NOT NULL
);
