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
    use super::decode;

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
