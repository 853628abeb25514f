CREATE FUNCTION audit_append(
    p_chain text, p_filing uuid, p_actor uuid, p_action text, p_at timestamptz,
    p_entry_head text
) RETURNS SETOF audit_log LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_entry text;
    v_hash text;
    v_row audit_log;
BEGIN
    INSERT INTO audit_heads AS h (chain, seq, hash, updated_at)
    VALUES (p_chain, 1, repeat('0', 64), p_at)
    ON CONFLICT (chain) DO UPDATE SET seq = h.seq + 1, updated_at = p_at
    RETURNING h.seq, h.hash INTO v_seq, v_prev;
    v_entry := p_entry_head || v_seq::text || '}';
    v_hash := encode(sha256(convert_to(v_prev || E'\n' || v_entry, 'UTF8')), 'hex');
    UPDATE audit_heads SET hash = v_hash WHERE chain = p_chain;
    INSERT INTO audit_log (chain, seq, filing_id, actor_id, action, at, entry, prev_hash, hash)
    VALUES (p_chain, v_seq, p_filing, p_actor, p_action, p_at, v_entry, v_prev, v_hash)
    RETURNING * INTO v_row;
    RETURN NEXT v_row;
END
$$;

ALTER TABLE audit_heads DROP COLUMN prev_hash;
