-- Written instruments and electronic certificates (issue 16).

-- A certificate (电子证照): one row per version. A change (变更) issues the next version and
-- marks this one `changed`; the life after issue moves the status. The verify page reads this
-- table, so a status written in an action's transaction is public when it commits.
CREATE TABLE certificates (
    id             uuid PRIMARY KEY,
    -- GB/T 36904 structure: 1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>.
    identifier     text NOT NULL UNIQUE,
    filing_id      uuid NOT NULL REFERENCES filings (id),
    document_code  text NOT NULL,
    version        integer NOT NULL CHECK (version BETWEEN 1 AND 999),
    -- The certificate's own number (the permit's 18 digits, or the filing number).
    number         text NOT NULL,
    status         text NOT NULL CHECK (status IN
                     ('valid', 'changed', 'extended', 'suspended', 'lapsed', 'revoked', 'cancelled')),
    status_at      timestamptz NOT NULL,
    status_reason  text,
    valid_until    date,
    issued_at      timestamptz NOT NULL,
    -- The fields shown to anyone who verifies it, personal data already masked.
    public_fields  jsonb NOT NULL,
    superseded_by  uuid REFERENCES certificates (id),
    UNIQUE (filing_id, document_code, version)
);
CREATE INDEX certificates_filing ON certificates (filing_id);

-- Every status a certificate took, with its reason: the verify page's history.
CREATE TABLE certificate_events (
    id             bigserial PRIMARY KEY,
    certificate_id uuid NOT NULL REFERENCES certificates (id),
    status         text NOT NULL,
    at             timestamptz NOT NULL,
    reason         text,
    action         text
);
CREATE INDEX certificate_events_certificate ON certificate_events (certificate_id, id);

-- Serials per certificate type and day (the permit number's 2-digit serial of the day, and the
-- identifier's serial): taken under the filing's lock in the issuing action, so a rolled-back
-- action returns its number.
CREATE TABLE certificate_serials (
    type_code  text NOT NULL,
    day        date NOT NULL,
    last       integer NOT NULL,
    PRIMARY KEY (type_code, day)
);

-- A document: its content frozen in the action's transaction (`sheet`), its PDF rendered after
-- the commit (so rendering never holds the filing's lock) and then never again.
CREATE TABLE documents (
    id              uuid PRIMARY KEY,
    filing_id       uuid NOT NULL REFERENCES filings (id),
    code            text NOT NULL,
    kind            text NOT NULL,
    title_zh        text NOT NULL,
    title_en        text NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    action          text NOT NULL,
    issued_at       timestamptz NOT NULL,
    issued_by       uuid NOT NULL REFERENCES users (id),
    sheet           jsonb NOT NULL,
    certificate_id  uuid REFERENCES certificates (id),
    superseded_by   uuid REFERENCES documents (id),
    superseded_at   timestamptz,
    pdf             bytea,
    sha256          text,
    seal_signature  text,
    rendered_at     timestamptz,
    -- Issue order (several documents share an action's time).
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    UNIQUE (filing_id, code, version),
    CHECK ((pdf IS NULL) = (sha256 IS NULL) AND (pdf IS NULL) = (rendered_at IS NULL))
);
CREATE INDEX documents_filing ON documents (filing_id, seq);
-- The renderer's queue: documents issued but not yet rendered.
CREATE INDEX documents_pending ON documents (seq) WHERE pdf IS NULL;

-- Why: a document is evidence. Once rendered, its file, hash, seal and content never change
-- (a correction is a new version); only the marker of its successor may be set, once.
CREATE FUNCTION documents_are_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'documents are kept: DELETE refused';
    END IF;
    IF OLD.sheet IS DISTINCT FROM NEW.sheet
       OR OLD.filing_id IS DISTINCT FROM NEW.filing_id
       OR OLD.version IS DISTINCT FROM NEW.version
       OR OLD.issued_at IS DISTINCT FROM NEW.issued_at
       OR (OLD.pdf IS NOT NULL AND (OLD.pdf IS DISTINCT FROM NEW.pdf
                                    OR OLD.sha256 IS DISTINCT FROM NEW.sha256
                                    OR OLD.seal_signature IS DISTINCT FROM NEW.seal_signature
                                    OR OLD.rendered_at IS DISTINCT FROM NEW.rendered_at))
       OR (OLD.superseded_by IS NOT NULL AND OLD.superseded_by IS DISTINCT FROM NEW.superseded_by)
    THEN
        RAISE EXCEPTION 'document % is fixed: a correction is a new version', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER documents_fixed BEFORE UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_are_fixed();
