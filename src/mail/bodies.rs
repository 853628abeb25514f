//! A letter's two parts as the outbox stores them: the text and the HTML deflated together
//! (zlib) against a fixed dictionary of the letters' layout, in the column `outbox.bodies`.
//!
//! Why: the HTML part repeats the text part inside the same styled layout in every letter, so
//! the two deflated against that layout are much smaller than the two lz4-compressed columns,
//! and an action's letter stays under PostgreSQL's TOAST threshold: one heap record instead of
//! three (README "Benchmarks" has the figures). The letter is still rendered once, in the action's transaction; the sender
//! only inflates it, so what is sent is what was true as of the action.
//!
//! Policy: a dictionary is never changed once letters were written with it. zlib records the
//! dictionary's Adler-32 in the stream (DICTID), and [`unpack`] picks the dictionary by it; a new
//! dictionary (a new layout) is added to [`DICTIONARIES`] and the old ones stay.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The layout and the common words of the letters of December 2026 (src/templates/mail/).
const DICTIONARY_2026_12: &[u8] = include_bytes!("letter-bodies.dict");

/// Every dictionary letters were ever written with; the first is the one written with now.
const DICTIONARIES: &[&[u8]] = &[DICTIONARY_2026_12];

/// zlib's fastest level: against the dictionary a typical letter deflates to 486 bytes in
/// about 18 µs, against 410 bytes in about 50 µs at the default level 6 (measured on 2026-12-05
/// with this crate's zlib-rs; README, Benchmarks). Every action with a letter pays the time;
/// the 76 bytes are a row well under the TOAST threshold either way. Any level inflates alike.
const LEVEL: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BodiesError {
    #[error("deflating a letter: {0}")]
    Deflate(String),
    #[error("inflating a letter: {0}")]
    Inflate(String),
}

/// The stored form of a letter's text and HTML: zlib of the text's length (4 bytes, little
/// endian), the text and the HTML, against the current dictionary.
pub fn pack(text: &str, html: &str) -> Result<Vec<u8>, BodiesError> {
    let len =
        u32::try_from(text.len()).map_err(|_| BodiesError::Deflate("text over 4 GB".into()))?;
    let mut input = Vec::with_capacity(4 + text.len() + html.len());
    input.extend_from_slice(&len.to_le_bytes());
    input.extend_from_slice(text.as_bytes());
    input.extend_from_slice(html.as_bytes());
    // A deflate state is a few hundred kilobytes (window, hash chains, buffers), allocated and
    // zeroed when made: each thread keeps one and resets it between letters.
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = slot.get_or_insert_with(|| Compress::new(Compression::new(LEVEL), true));
        let packed = deflate(c, &input);
        c.reset();
        packed
    })
}

thread_local! {
    /// This thread's deflate state, reset after every letter.
    static COMPRESSOR: std::cell::RefCell<Option<Compress>> = const { std::cell::RefCell::new(None) };
}

/// `input` deflated by `c`, fresh or just reset, against the current dictionary.
fn deflate(c: &mut Compress, input: &[u8]) -> Result<Vec<u8>, BodiesError> {
    c.set_dictionary(DICTIONARIES[0])
        .map_err(|e| BodiesError::Deflate(e.to_string()))?;
    let mut out = Vec::with_capacity(input.len() / 3 + 64);
    loop {
        let done = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
        let status = c
            .compress_vec(
                input.get(done..).unwrap_or_default(),
                &mut out,
                FlushCompress::Finish,
            )
            .map_err(|e| BodiesError::Deflate(e.to_string()))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        out.reserve(out.capacity().max(256));
    }
}

/// The text and the HTML of a stored letter.
pub fn unpack(stored: &[u8]) -> Result<(String, String), BodiesError> {
    let bad = |e: &dyn std::fmt::Display| BodiesError::Inflate(e.to_string());
    let mut d = Decompress::new(true);
    let mut out = Vec::with_capacity(stored.len() * 6);
    let mut dictionary_set = false;
    loop {
        let done = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let (in_before, out_before) = (d.total_in(), d.total_out());
        match d.decompress_vec(
            stored.get(done..).unwrap_or_default(),
            &mut out,
            FlushDecompress::Finish,
        ) {
            Ok(Status::StreamEnd) => break,
            Ok(_) => {
                if out.len() == out.capacity() {
                    out.reserve(out.capacity().max(1024));
                } else if d.total_in() == in_before && d.total_out() == out_before {
                    return Err(bad(&"the stored letter ends early"));
                }
            }
            Err(e) => match e.needs_dictionary() {
                Some(id) if !dictionary_set => {
                    let dictionary = DICTIONARIES
                        .iter()
                        .find(|dict| adler32(dict) == id)
                        .ok_or_else(|| {
                            bad(&format_args!("no dictionary with Adler-32 {id:08x}"))
                        })?;
                    d.set_dictionary(dictionary).map_err(|e| bad(&e))?;
                    dictionary_set = true;
                }
                _ => return Err(bad(&e)),
            },
        }
    }
    let (len, rest) = out
        .split_first_chunk::<4>()
        .ok_or_else(|| bad(&"the stored letter is too short"))?;
    let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|e| bad(&e))?;
    if rest.len() < len {
        return Err(bad(&"the text is longer than the letter"));
    }
    let (text, html) = rest.split_at(len);
    Ok((
        String::from_utf8(text.to_vec()).map_err(|e| bad(&e))?,
        String::from_utf8(html.to_vec()).map_err(|e| bad(&e))?,
    ))
}

/// zlib's checksum of a dictionary (RFC 1950), the DICTID a stream names it by.
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_comes_back_as_it_was_stored_and_smaller() {
        let text = "示范建设集团有限公司，您好：\n\n您的申请 XFBA-2026-000002 现为「检查不合格，停止使用并整改」。\n";
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<body style=\"margin:0;padding:24px\">\n<p>{}</p>\n</body>\n</html>\n",
            text.trim()
        );
        let stored = pack(text, &html).unwrap();
        assert!(
            stored.len() < (text.len() + html.len()) / 2,
            "{}",
            stored.len()
        );
        assert_eq!(unpack(&stored).unwrap(), (text.to_owned(), html));
        assert_eq!(
            unpack(&pack("", "").unwrap()).unwrap(),
            (String::new(), String::new())
        );
    }

    #[test]
    fn the_threads_deflate_state_is_reset_between_letters() {
        let fresh = |text: &str, html: &str| {
            let mut input = u32::try_from(text.len()).unwrap().to_le_bytes().to_vec();
            input.extend_from_slice(text.as_bytes());
            input.extend_from_slice(html.as_bytes());
            deflate(&mut Compress::new(Compression::new(LEVEL), true), &input).unwrap()
        };
        let long = "您的申请已受理。".repeat(400);
        // The same bytes as a state made for the letter, whatever the thread packed before.
        for (text, html) in [
            ("一", "<p>一</p>"),
            (long.as_str(), "<p>二</p>"),
            ("一", "<p>一</p>"),
        ] {
            assert_eq!(pack(text, html).unwrap(), fresh(text, html));
        }
    }

    #[test]
    fn the_dictionary_is_named_by_its_adler32_and_a_damaged_letter_is_an_error() {
        let stored = pack("a", "b").unwrap();
        // zlib's header: CMF, FLG (FDICT set), then DICTID.
        assert_eq!(stored[1] & 0x20, 0x20);
        assert_eq!(
            u32::from_be_bytes(stored[2..6].try_into().unwrap()),
            adler32(DICTIONARY_2026_12)
        );
        assert!(unpack(&stored[..stored.len() - 3]).is_err());
        let mut other = stored.clone();
        other[5] ^= 1;
        assert!(unpack(&other).is_err());
    }
}
