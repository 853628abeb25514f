-- A busy morning's scan writes thousands of letters of several KB each; lz4 compresses them
-- many times faster than the default pglz, and the bodies are written far more often than
-- they are read.
ALTER TABLE outbox
    ALTER COLUMN body_text SET COMPRESSION lz4,
    ALTER COLUMN body_html SET COMPRESSION lz4;
