//! Go's `base64.StdEncoding.Decode`, for the `[]byte` fields opm decodes
//! from JSON (`olm.bundle.object` data). Only the error matters to match:
//! Go reports `illegal base64 data at input byte N` with an N that depends
//! on how it walks 4-character quanta, skipping `\r` and `\n` and checking
//! `=` padding, and this follows the same walk.

const PAD: u8 = b'=';

/// Decodes standard base64 (with padding), ignoring `\r` and `\n`.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    // Fast path: canonical padded standard base64, by far the common case
    // (catalogs carry megabytes of it). Anything else takes Go's exact path
    // below, which also words the errors.
    if let Ok(bytes) = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text) {
        return Ok(bytes);
    }
    let src = text.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut src_idx = 0;
    loop {
        let (next_idx, quantum, end) = decode_quantum(src, src_idx)?;
        out.extend_from_slice(&quantum);
        src_idx = next_idx;
        if end {
            return Ok(out);
        }
    }
}

/// Whether [`decode`] takes `text`, without decoding it when it is
/// canonical padded standard base64 (the common case); anything else is
/// decided by the decoder itself.
pub(crate) fn is_valid(text: &str) -> bool {
    is_plain(text) || decode(text).is_ok()
}

/// Canonical padded standard base64, checked with no branch per byte, so
/// the compiler can use vector code. Everything it passes Go's decoder
/// takes (Go's `StdEncoding` also takes non-zero trailing bits).
fn is_plain(text: &str) -> bool {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let body = bytes.strip_suffix(b"==").or_else(|| bytes.strip_suffix(b"=")).unwrap_or(bytes);
    body.iter().fold(true, |valid, &byte| {
        valid & (byte.is_ascii_uppercase() | byte.is_ascii_lowercase() | byte.is_ascii_digit() | (byte == b'+') | (byte == b'/'))
    })
}

fn corrupt(offset: usize) -> String {
    format!("illegal base64 data at input byte {offset}")
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// One quantum: returns the next input index, the decoded bytes and whether
/// the input is finished.
fn decode_quantum(src: &[u8], start: usize) -> Result<(usize, Vec<u8>, bool), String> {
    let mut values = [0u8; 4];
    let mut n_values = 0;
    let mut src_idx = start;
    let mut finished = false;
    while n_values < 4 {
        let Some(&byte) = src.get(src_idx) else {
            if n_values == 0 {
                return Ok((src_idx, Vec::new(), true));
            }
            // StdEncoding pads, so a short final quantum is corrupt.
            return Err(corrupt(src_idx - n_values));
        };
        src_idx += 1;
        if let Some(value) = sextet(byte) {
            values[n_values] = value;
            n_values += 1;
            continue;
        }
        if byte == b'\n' || byte == b'\r' {
            continue;
        }
        if byte != PAD {
            return Err(corrupt(src_idx - 1));
        }
        // Padding: only after two or three characters of a quantum.
        match n_values {
            0 | 1 => return Err(corrupt(src_idx - 1)),
            2 => {
                while matches!(src.get(src_idx), Some(b'\n' | b'\r')) {
                    src_idx += 1;
                }
                match src.get(src_idx) {
                    None => return Err(corrupt(src.len())),
                    Some(&PAD) => src_idx += 1,
                    Some(_) => return Err(corrupt(src_idx - 1)),
                }
            }
            _ => {}
        }
        while matches!(src.get(src_idx), Some(b'\n' | b'\r')) {
            src_idx += 1;
        }
        if src_idx < src.len() {
            return Err(corrupt(src_idx));
        }
        finished = true;
        break;
    }
    let combined = (u32::from(values[0]) << 18) | (u32::from(values[1]) << 12) | (u32::from(values[2]) << 6) | u32::from(values[3]);
    let bytes = [(combined >> 16) as u8, (combined >> 8) as u8, combined as u8];
    let n_bytes = if finished { n_values - 1 } else { 3 };
    Ok((src_idx, bytes[..n_bytes].to_vec(), finished || src_idx == src.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_base64_is_what_the_decoder_takes() {
        use base64::Engine as _;
        // Every length's canonical encoding passes the quick check, and
        // what it passes the decoder takes.
        for len in 0..70u8 {
            let data: Vec<u8> = (0..len).map(|idx| idx.wrapping_mul(37)).collect();
            let text = base64::engine::general_purpose::STANDARD.encode(&data);
            assert!(is_plain(&text), "{text}");
            assert_eq!(decode(&text).unwrap(), data);
        }
        // Anything else is left to the decoder, which words the error.
        for text in ["abc", "ab=c", "a===", "ab\ncd==", "ab-_", "abc\"", "=abc"] {
            assert!(!is_plain(text), "{text}");
        }
        // Line breaks are skipped by the decoder ("abcd"), so still valid.
        assert!(!is_plain("YWJj\nZA=="));
        assert!(is_valid("YWJj\nZA=="));
        assert!(!is_valid("ab=c"));
    }

    #[test]
    fn one_foreign_byte_anywhere_fails_the_quick_check() {
        use base64::Engine as _;
        // Every position of a text longer than any vector the check may use.
        let text = base64::engine::general_purpose::STANDARD.encode([7u8; 150]);
        assert!(is_plain(&text));
        for idx in 0..text.len() - 1 {
            for foreign in ["-", "\"", "\n", "@", "[", "`", "{", ":"] {
                let mut bad = text.clone();
                bad.replace_range(idx..=idx, foreign);
                assert!(!is_plain(&bad), "{foreign:?} at {idx}");
            }
        }
    }

    #[test]
    fn decodes_and_reports_go_offsets() {
        assert_eq!(decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("aGVs\nbG8h").unwrap(), b"hello!");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("aGVsbG8").unwrap_err(), "illegal base64 data at input byte 4");
        assert_eq!(decode("aG!s").unwrap_err(), "illegal base64 data at input byte 2");
        assert_eq!(decode("a===").unwrap_err(), "illegal base64 data at input byte 1");
        assert_eq!(decode("aGVsbG8=x").unwrap_err(), "illegal base64 data at input byte 8");
        assert_eq!(decode("aG=").unwrap_err(), "illegal base64 data at input byte 3");
    }
}
