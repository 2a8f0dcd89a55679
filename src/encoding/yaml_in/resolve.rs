//! YAML 1.1 scalar resolution as go-yaml v2 (`resolve.go`) does it.
//!
//! opm never sees YAML 1.2: sigs.k8s.io/yaml hands every manifest to go-yaml
//! v2, whose resolver turns `yes`/`on`/`y` into booleans, `0755` into 493,
//! `1_000` into 1000 and `.inf` into a float. The rules here follow that
//! resolver step by step, including the order in which it tries each reading
//! (timestamp, then `strconv.ParseInt`, then `ParseUint`, then the float
//! pattern), because the order decides edge cases such as `08` (not octal, so
//! a float) or `18446744073709551616` (too big for both integers, so a float).

/// The long form of go-yaml's `!!` tags.
pub(super) const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// What a scalar decodes to in Go's `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    /// Go `int` (64 bits on every platform opm ships for).
    Int(i64),
    /// Go `uint64`: positive integers above `i64::MAX`.
    Uint(u64),
    Float(f64),
    String(String),
}

/// Why a scalar could not be decoded: the text go-yaml fails with.
pub(super) type ResolveError = String;

/// Resolves one scalar node. `tag` is the full tag (`None` when absent),
/// `plain` says whether the scalar was written without quotes or block
/// indicators. Mirrors go-yaml's `decoder.scalar` for an `interface{}`
/// target: quoted untagged scalars are strings, timestamps keep their text,
/// `!!binary` is base64-decoded.
pub(super) fn resolve_scalar(value: &str, tag: Option<&str>, plain: bool) -> Result<Resolved, ResolveError> {
    let Some(tag) = tag else {
        // Quoted and block scalars without a tag are strings.
        if !plain {
            return Ok(Resolved::String(value.to_string()));
        }
        return Ok(resolve_untagged(value, true).0);
    };
    let short = tag.strip_prefix(TAG_PREFIX);
    match short {
        Some("binary") => {
            let bytes = decode_base64(value).ok_or_else(|| "!!binary value contains invalid base64 data".to_string())?;
            Ok(Resolved::String(go_string_from_bytes(&bytes)))
        }
        Some(name @ ("str" | "bool" | "int" | "float" | "null" | "timestamp")) => {
            if name == "str" {
                return Ok(Resolved::String(value.to_string()));
            }
            let (resolved, kind) = resolve_untagged(value, name == "timestamp");
            match (name, kind) {
                (wanted, found) if wanted == found => Ok(resolved),
                ("float", "int") => Ok(match resolved {
                    Resolved::Int(int) => Resolved::Float(int as f64),
                    // go-yaml converts only `int`/`int64` results; a uint64
                    // falls through to the failure below.
                    other => return Err(cannot_decode(found_kind_uint(&other), value, "float")),
                }),
                (wanted, found) => Err(cannot_decode(found, value, wanted)),
            }
        }
        // Any other tag (`!foo`, the bare `!`, `!!merge`, `!!map`, ...) is
        // not resolvable: the text stays a string.
        _ => Ok(Resolved::String(value.to_string())),
    }
}

fn found_kind_uint(resolved: &Resolved) -> &'static str {
    match resolved {
        Resolved::Uint(_) | Resolved::Int(_) => "int",
        _ => "str",
    }
}

fn cannot_decode(found: &str, value: &str, wanted: &str) -> String {
    format!("cannot decode !!{found} `{value}` as a !!{wanted}")
}

/// go-yaml's `resolve("", text)`: the value and the short name of the tag
/// it resolved to. `try_timestamp` is false for quoted text given an explicit
/// non-timestamp tag (go-yaml only tries timestamps for untagged or
/// `!!timestamp` scalars).
fn resolve_untagged(text: &str, try_timestamp: bool) -> (Resolved, &'static str) {
    let Some(&first) = text.as_bytes().first() else {
        return (Resolved::Null, "null");
    };
    match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            resolve_word(text).unwrap_or_else(|| (Resolved::String(text.to_string()), "str"))
        }
        b'.' => {
            if let Some(found) = resolve_word(text) {
                return found;
            }
            match parse_dot_float(text) {
                Some(float) => (Resolved::Float(float), "float"),
                None => (Resolved::String(text.to_string()), "str"),
            }
        }
        b'+' | b'-' | b'0'..=b'9' => {
            if let Some(found) = resolve_word(text) {
                return found;
            }
            if try_timestamp && is_timestamp(text) {
                return (Resolved::String(text.to_string()), "timestamp");
            }
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Ok(int) = go_parse_int(&plain) {
                return (Resolved::Int(int), "int");
            }
            if let Ok(uint) = go_parse_uint(&plain) {
                return (Resolved::Uint(uint), "int");
            }
            if is_yaml_style_float(&plain)
                && let Some(float) = parse_finite_float(&plain)
            {
                return (Resolved::Float(float), "float");
            }
            (Resolved::String(text.to_string()), "str")
        }
        _ => (Resolved::String(text.to_string()), "str"),
    }
}

/// The fixed words of go-yaml's resolve table.
fn resolve_word(text: &str) -> Option<(Resolved, &'static str)> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => (Resolved::Bool(true), "bool"),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => (Resolved::Bool(false), "bool"),
        "~" | "null" | "Null" | "NULL" => (Resolved::Null, "null"),
        ".nan" | ".NaN" | ".NAN" => (Resolved::Float(f64::NAN), "float"),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => (Resolved::Float(f64::INFINITY), "float"),
        "-.inf" | "-.Inf" | "-.INF" => (Resolved::Float(f64::NEG_INFINITY), "float"),
        // `<<` resolves to the merge tag but decodes as the string itself.
        "<<" => (Resolved::String("<<".to_string()), "merge"),
        _ => return None,
    })
}

/// `strconv.ParseInt(text, 0, 64)`: optional sign, then `0x`/`0o`/`0b`
/// prefixes or a leading `0` for octal.
fn go_parse_int(text: &str) -> Result<i64, IntError> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let magnitude = match go_parse_uint(digits) {
        Ok(value) => value,
        Err(IntError::Range) => u64::MAX,
        Err(IntError::Syntax) => return Err(IntError::Syntax),
    };
    const CUTOFF: u64 = 1 << 63;
    if !negative && magnitude >= CUTOFF {
        return Err(IntError::Range);
    }
    if negative && magnitude > CUTOFF {
        return Err(IntError::Range);
    }
    Ok(if negative {
        (magnitude as i64).wrapping_neg()
    } else {
        magnitude as i64
    })
}

#[derive(Debug, PartialEq)]
enum IntError {
    Syntax,
    Range,
}

/// `strconv.ParseUint(text, 0, 64)` (no sign accepted).
fn go_parse_uint(text: &str) -> Result<u64, IntError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(IntError::Syntax);
    }
    let (base, digits): (u64, &[u8]) = if bytes[0] == b'0' {
        match bytes.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let mut value: u64 = 0;
    let mut overflow = false;
    for &byte in digits {
        let digit = match byte {
            b'0'..=b'9' => u64::from(byte - b'0'),
            b'a'..=b'z' => u64::from(byte - b'a') + 10,
            b'A'..=b'Z' => u64::from(byte - b'A') + 10,
            _ => return Err(IntError::Syntax),
        };
        if digit >= base {
            return Err(IntError::Syntax);
        }
        match value.checked_mul(base).and_then(|scaled| scaled.checked_add(digit)) {
            Some(next) => value = next,
            None => overflow = true,
        }
    }
    if overflow { Err(IntError::Range) } else { Ok(value) }
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut pos = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let count_digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    if bytes.get(pos) == Some(&b'.') {
        let n_digits = count_digits(pos + 1);
        if n_digits == 0 {
            return false;
        }
        pos += 1 + n_digits;
    } else {
        let n_digits = count_digits(pos);
        if n_digits == 0 {
            return false;
        }
        pos += n_digits;
        if bytes.get(pos) == Some(&b'.') {
            pos += 1 + count_digits(pos + 1);
        }
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(bytes.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        let n_digits = count_digits(pos);
        if n_digits == 0 {
            return false;
        }
        pos += n_digits;
    }
    pos == bytes.len()
}

/// `strconv.ParseFloat` of decimal text: fails on overflow to infinity,
/// as Go reports a range error there.
fn parse_finite_float(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// `strconv.ParseFloat` for text starting with `.` (go-yaml's `.` hint).
/// Go accepts underscores between digits there.
fn parse_dot_float(text: &str) -> Option<f64> {
    if text.contains('_') && !underscores_ok(text) {
        return None;
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if !is_yaml_style_float(&plain) {
        return None;
    }
    parse_finite_float(&plain)
}

/// Go's `underscoreOK` for a decimal number: every `_` sits between digits.
fn underscores_ok(text: &str) -> bool {
    let mut previous = b'^';
    for &byte in text.as_bytes() {
        if byte.is_ascii_digit() {
            previous = b'0';
        } else if byte == b'_' {
            if previous != b'0' {
                return false;
            }
            previous = b'_';
        } else {
            if previous == b'_' {
                return false;
            }
            previous = b'!';
        }
    }
    previous != b'_'
}

/// go-yaml's `parseTimestamp`: the text starts with exactly four digits and
/// a `-`, then matches one of the layouts `2006-1-2T15:4:5.999999999Z07:00`
/// (also with `t`), `2006-1-2 15:4:5.999999999` or `2006-1-2`, with Go
/// `time.Parse` rules (one- or two-digit fields, range checks, valid day of
/// month).
pub(super) fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    let n_year_digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if n_year_digits != 4 || bytes.get(4) != Some(&b'-') {
        return false;
    }
    let Some((year, month, day, rest)) = parse_date(bytes) else {
        return false;
    };
    let day_valid = day >= 1 && day <= days_in_month(month, year);
    if rest.is_empty() {
        return day_valid;
    }
    let timestamp_ok = match rest[0] {
        b'T' | b't' => parse_clock(&rest[1..]).is_some_and(parse_zone),
        b' ' => {
            let trimmed = trim_spaces(rest);
            parse_clock(trimmed).is_some_and(<[u8]>::is_empty)
        }
        _ => false,
    };
    timestamp_ok && day_valid
}

fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let n_spaces = bytes.iter().take_while(|&&b| b == b' ').count();
    &bytes[n_spaces..]
}

/// Go's `getnum(value, false)`: one or two digits.
fn one_or_two_digits(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let first = *bytes.first().filter(|b| b.is_ascii_digit())?;
    match bytes.get(1) {
        Some(second) if second.is_ascii_digit() => Some((u32::from(first - b'0') * 10 + u32::from(second - b'0'), &bytes[2..])),
        _ => Some((u32::from(first - b'0'), &bytes[1..])),
    }
}

fn parse_date(bytes: &[u8]) -> Option<(u32, u32, u32, &[u8])> {
    let year = std::str::from_utf8(&bytes[..4]).ok()?.parse::<u32>().ok()?;
    let rest = bytes[4..].strip_prefix(b"-")?;
    let (month, rest) = one_or_two_digits(rest)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let rest = rest.strip_prefix(b"-")?;
    let (day, rest) = one_or_two_digits(rest)?;
    Some((year, month, day, rest))
}

/// `15:4:5` with an optional fraction; returns what follows.
fn parse_clock(bytes: &[u8]) -> Option<&[u8]> {
    let (hour, rest) = one_or_two_digits(bytes)?;
    let rest = rest.strip_prefix(b":")?;
    let (minute, rest) = one_or_two_digits(rest)?;
    let rest = rest.strip_prefix(b":")?;
    let (second, mut rest) = one_or_two_digits(rest)?;
    if hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && rest[1].is_ascii_digit() {
        let n_digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        rest = &rest[1 + n_digits..];
    }
    Some(rest)
}

/// `Z07:00`: `Z`, or a sign, two digits, `:`, two digits; nothing after.
fn parse_zone(bytes: &[u8]) -> bool {
    if bytes == b"Z" {
        return true;
    }
    if bytes.len() != 6 || !matches!(bytes[0], b'+' | b'-') || bytes[3] != b':' {
        return false;
    }
    let two = |pair: &[u8]| -> Option<u32> {
        (pair[0].is_ascii_digit() && pair[1].is_ascii_digit()).then(|| u32::from(pair[0] - b'0') * 10 + u32::from(pair[1] - b'0'))
    };
    matches!((two(&bytes[1..3]), two(&bytes[4..6])), (Some(hour), Some(minute)) if hour <= 24 && minute <= 60)
}

fn days_in_month(month: u32, year: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n`
/// ignored, anything else outside the alphabet is an error.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let cleaned: String = text.chars().filter(|&c| c != '\r' && c != '\n').collect();
    base64::engine::general_purpose::STANDARD.decode(cleaned).ok()
}

/// A Go string holding arbitrary bytes, as `json.Marshal` would print it:
/// each byte that does not start a valid UTF-8 sequence becomes U+FFFD.
fn go_string_from_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{fffd}');
                rest = &after[1..];
            }
        }
    }
    out
}

/// `strconv.FormatFloat(value, 'g', -1, 32)`, which sigs.k8s.io/yaml uses
/// for float map keys, with its `.inf`/`-.inf`/`.nan` spellings.
pub(super) fn format_float_key(value: f64) -> String {
    let narrow = value as f32;
    if narrow.is_nan() {
        return ".nan".to_string();
    }
    if narrow.is_infinite() {
        return if narrow > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    if narrow == 0.0 {
        return if narrow.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits of the f32.
    let scientific = format!("{:e}", narrow.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if narrow < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (head, tail) = digits.split_at(1);
        let fraction = if tail.is_empty() { String::new() } else { format!(".{tail}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{head}{fraction}e{exponent_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}
