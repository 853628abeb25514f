//! The audit chain: canonical encoding and SHA-256 links.
//!
//! Policy: every entry is hashed over `prev_hash || "\n" || canonical(entry)`, where the canonical
//! form is JSON with object keys sorted by code point, no insignificant white space and numbers
//! as serde_json prints them. Sorting is done here explicitly, so that the encoding does not
//! depend on serde_json's map feature flags. The first entry of a chain links to [`GENESIS`].
//! Anyone who can read the rows can recompute the chain; nothing secret is involved.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The predecessor of the first entry of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Canonical JSON text of a value.
pub fn canonical(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    // serde_json writes UTF-8 only; the check is a pass over bytes just written.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Keys and scalars are written by serde_json's compact writer, straight into `out`: the same
/// text as `Value::to_string` gives for them, without a `String` made for each.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(k.as_str(), out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        other => write_scalar(other, out),
    }
}

fn write_scalar<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    // Writing a string, number, bool or null into a Vec cannot fail.
    let _ = serde_json::to_writer(out, v);
}

/// The hash of an entry given its predecessor's hash, as lower-case hex.
pub fn link(prev_hash: &str, canonical_entry: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical_entry.as_bytes());
    hex::encode(h.finalize())
}

/// One stored entry as read back for verification.
#[derive(Debug, Clone)]
pub struct StoredLink {
    pub id: i64,
    pub seq: i64,
    pub entry: String,
    pub prev_hash: String,
    pub hash: String,
    /// The row's queryable columns as the entry would state them (`action`, `actor_id`, `at`,
    /// ...): each must equal the hashed entry's value, or someone rewrote a column.
    pub columns: Value,
}

/// Where and why a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Break {
    /// The row id of the first entry that does not verify.
    pub id: i64,
    pub seq: i64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakReason {
    /// The entry's text no longer hashes to its recorded hash: the entry was altered.
    HashMismatch,
    /// The entry does not point at its predecessor's hash: an entry was removed or replaced.
    BrokenLink,
    /// Sequence numbers are not 1, 2, 3, ...: an entry was removed or inserted.
    Gap,
    /// The chain's recorded head does not match its last entry: entries were cut off the end.
    HeadMismatch,
    /// A column (action, actor, time, ...) no longer says what the hashed entry says.
    ColumnMismatch,
    /// A seal does not hash to its recorded hash or does not link to the seal before it: the
    /// seals were altered (`id` and `seq` are the seal's number).
    SealBroken,
    /// A seal's recorded heads no longer hash to the digest it sealed.
    SealHeadsMismatch,
    /// The entry at a sealed place of the chain no longer has the sealed hash (or is gone): the
    /// chain was rewritten after it was sealed, however consistently.
    SealedEntryChanged,
    /// The seal hash kept outside the system is not among the seals: the seals were rewritten
    /// (or the copy is of another database).
    KeptSealMissing,
}

/// The digest of a seal's heads: SHA-256 over one line `chain \t seq \t hash \n` per chain,
/// in the order of the chain names (byte order), as lower-case hex.
pub fn heads_digest(heads: &[(String, i64, String)]) -> String {
    let mut sorted: Vec<&(String, i64, String)> = heads.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Sha256::new();
    for (chain, seq, hash) in sorted {
        h.update(chain.as_bytes());
        h.update(b"\t");
        h.update(seq.to_string().as_bytes());
        h.update(b"\t");
        h.update(hash.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The canonical entry of a seal; it is linked to the previous seal's hash with [`link`].
pub fn seal_entry(seq: i64, at: &str, heads: usize, heads_digest: &str) -> String {
    canonical(&serde_json::json!({
        "seq": seq,
        "at": at,
        "heads": heads,
        "heads_digest": heads_digest,
    }))
}

fn columns_agree(entry: &str, columns: &Value) -> bool {
    let Ok(parsed) = serde_json::from_str::<Value>(entry) else {
        return false;
    };
    match columns {
        Value::Object(cols) => cols.iter().all(|(k, v)| parsed.get(k) == Some(v)),
        Value::Null => true,
        _ => false,
    }
}

/// Verify the entries of one chain in sequence order; `head` is the recorded (seq, hash) of the
/// chain's last entry, if the chain has a head record.
pub fn verify<I: IntoIterator<Item = StoredLink>>(
    links: I,
    head: Option<(i64, &str)>,
) -> Result<u64, Break> {
    let mut prev = GENESIS.to_owned();
    let mut last: Option<(i64, i64, String)> = None;
    let mut n = 0;
    for (expected_seq, l) in (1..).zip(links) {
        if l.seq != expected_seq {
            return Err(Break {
                id: l.id,
                seq: l.seq,
                reason: BreakReason::Gap,
            });
        }
        if l.prev_hash != prev {
            return Err(Break {
                id: l.id,
                seq: l.seq,
                reason: BreakReason::BrokenLink,
            });
        }
        if link(&l.prev_hash, &l.entry) != l.hash {
            return Err(Break {
                id: l.id,
                seq: l.seq,
                reason: BreakReason::HashMismatch,
            });
        }
        if !columns_agree(&l.entry, &l.columns) {
            return Err(Break {
                id: l.id,
                seq: l.seq,
                reason: BreakReason::ColumnMismatch,
            });
        }
        prev = l.hash.clone();
        n += 1;
        last = Some((l.id, l.seq, l.hash));
    }
    if let Some((head_seq, head_hash)) = head {
        let matches = last
            .as_ref()
            .is_some_and(|(_, seq, hash)| *seq == head_seq && hash == head_hash);
        if !matches {
            let (id, seq) = last.map(|(id, seq, _)| (id, seq)).unwrap_or((0, 0));
            return Err(Break {
                id,
                seq,
                reason: BreakReason::HeadMismatch,
            });
        }
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_seal_digest_ignores_the_order_heads_come_in_and_sees_every_field() {
        let h = |c: &str, s: i64, x: &str| (c.to_owned(), s, x.to_owned());
        let heads = vec![
            h("filing:b", 3, "bb"),
            h("admin", 7, "aa"),
            h("filing:a", 1, "cc"),
        ];
        let mut reversed = heads.clone();
        reversed.reverse();
        assert_eq!(heads_digest(&heads), heads_digest(&reversed));
        let mut base = heads.clone();
        base.sort();
        let digest = heads_digest(&base);
        for changed in [
            vec![
                h("filing:b", 4, "bb"),
                h("admin", 7, "aa"),
                h("filing:a", 1, "cc"),
            ],
            vec![
                h("filing:b", 3, "bc"),
                h("admin", 7, "aa"),
                h("filing:a", 1, "cc"),
            ],
            vec![
                h("filing:c", 3, "bb"),
                h("admin", 7, "aa"),
                h("filing:a", 1, "cc"),
            ],
            vec![h("admin", 7, "aa"), h("filing:a", 1, "cc")],
        ] {
            assert_ne!(heads_digest(&changed), digest, "{changed:?}");
        }
        // The lines are fixed: chain, seq and hash separated by tabs, one line per chain.
        assert_eq!(
            heads_digest(&[h("admin", 7, "aa")]),
            hex::encode(Sha256::digest(b"admin\t7\taa\n"))
        );
        assert_eq!(
            seal_entry(2, "2026-11-30T00:00:00.000000Z", 1, "ab"),
            r#"{"at":"2026-11-30T00:00:00.000000Z","heads":1,"heads_digest":"ab","seq":2}"#
        );
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth() {
        let a = json!({"b": 1, "a": {"d": [1, {"z": 0, "y": "中"}], "c": null}});
        assert_eq!(
            canonical(&a),
            r#"{"a":{"c":null,"d":[1,{"y":"中","z":0}]},"b":1}"#
        );
    }

    /// The canonical text of keys and scalars is serde_json's compact text, byte for byte:
    /// chains written before any change to the writer must still verify.
    #[test]
    fn canonical_keys_and_scalars_are_serde_jsons_compact_text() {
        let a = json!({
            "引号\"与\\反斜杠\n": [1.5, -0.0, 1e300, u64::MAX, i64::MIN, true, null],
            "\u{1}\u{7f}\u{2028}": "制表\t回车\r「」😀",
            "": {},
            "b": [],
        });
        assert_eq!(
            canonical(&a),
            "{\"\":{},\"\\u0001\u{7f}\u{2028}\":\"制表\\t回车\\r「」😀\",\"b\":[],\
             \"引号\\\"与\\\\反斜杠\\n\":[1.5,-0.0,1e+300,18446744073709551615,\
             -9223372036854775808,true,null]}"
        );
        // The writer before keys and scalars were written in place: each through `to_string`.
        fn by_to_string(value: &Value) -> String {
            match value {
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    let parts: Vec<String> = keys
                        .iter()
                        .map(|k| {
                            format!("{}:{}", Value::String((*k).clone()), by_to_string(&map[*k]))
                        })
                        .collect();
                    format!("{{{}}}", parts.join(","))
                }
                Value::Array(items) => {
                    let parts: Vec<String> = items.iter().map(by_to_string).collect();
                    format!("[{}]", parts.join(","))
                }
                other => other.to_string(),
            }
        }
        assert_eq!(canonical(&a), by_to_string(&a));
    }

    fn chain(n: i64) -> Vec<StoredLink> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = canonical(&json!({"seq": seq, "action": "submit"}));
                let hash = link(&prev, &entry);
                let l = StoredLink {
                    id: seq * 10,
                    seq,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    columns: json!({ "seq": seq, "action": "submit" }),
                };
                prev = hash;
                l
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        assert_eq!(verify(c, Some((head.0, &head.1))), Ok(5));
    }

    #[test]
    fn an_altered_entry_is_named() {
        let mut c = chain(5);
        c[2].entry = c[2].entry.replace("submit", "accept");
        let err = verify(c, None).unwrap_err();
        assert_eq!((err.seq, err.reason), (3, BreakReason::HashMismatch));
    }

    #[test]
    fn a_removed_entry_is_a_gap_and_a_rehashed_one_a_broken_link() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(c, None).unwrap_err().reason, BreakReason::Gap);

        let mut c = chain(3);
        // A forger who keeps the columns consistent and rehashes the row...
        c[1].entry = canonical(&json!({"seq": 2, "action": "submit", "forged": true}));
        c[1].hash = link(&c[1].prev_hash, &c[1].entry);
        let err = verify(c, None).unwrap_err();
        assert_eq!((err.seq, err.reason), (3, BreakReason::BrokenLink));
    }

    #[test]
    fn a_rewritten_column_is_caught_against_the_entry() {
        let mut c = chain(3);
        c[1].columns = json!({ "seq": 2, "action": "withdraw" });
        let err = verify(c, None).unwrap_err();
        assert_eq!((err.seq, err.reason), (2, BreakReason::ColumnMismatch));
    }

    #[test]
    fn a_truncated_chain_is_caught_by_its_head() {
        let c = chain(4);
        let head_hash = c[3].hash.clone();
        let cut: Vec<_> = c.into_iter().take(3).collect();
        assert_eq!(
            verify(cut, Some((4, &head_hash))).unwrap_err().reason,
            BreakReason::HeadMismatch
        );
    }
}
