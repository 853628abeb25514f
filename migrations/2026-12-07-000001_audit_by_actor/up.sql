-- The audit page browses the log by actor, newest first: one actor's entries come by this index
-- instead of by walking the whole log backwards until enough of theirs turn up.
CREATE INDEX audit_log_actor ON audit_log (actor_id, id) WHERE actor_id IS NOT NULL;
