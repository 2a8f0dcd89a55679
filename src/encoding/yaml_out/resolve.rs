//! go-yaml v2.4.4's implicit typing of plain scalars (`resolve.go`), used
//! twice on opm's YAML path: when `JSONToYAML` reads a JSON number back
//! (so `1.0` becomes the float 1 and `-0` the int 0), and when the encoder
//! asks whether a string would read back as a string if written plain (so
//! `"yes"`, `"0755"` or `"2021-01-01"` get quoted).
//!
//! YAML 1.1 rules as go-yaml implements them, which differ from the spec in
//! places: `0o17` and `0b-1` are integers, `1e400` (out of float range) and
//! `<<` (first byte has no hint) are strings, dates are recognised only
//! through Go's `time.Parse` with four layouts.

/// What a plain scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    /// Go `int` (64-bit).
    Int(i64),
    /// Go `uint64`: integers above `i64::MAX`.
    Uint(u64),
    Float(f64),
    Timestamp,
    Str,
}

/// `resolve("", text)`: the tag and value of an untagged plain scalar.
pub(super) fn resolve_plain(text: &str) -> Resolved {
    let bytes = text.as_bytes();
    // The empty string has the hint `N` (looked up in the table: null).
    let hint = match bytes.first() {
        None => Hint::Table,
        Some(&first) => match hint_of(first) {
            Some(hint) => hint,
            None => return Resolved::Str,
        },
    };
    if let Some(resolved) = lookup_table(text) {
        return resolved;
    }
    match hint {
        Hint::Table => Resolved::Str,
        Hint::Dot => go_parse_float(text).map_or(Resolved::Str, Resolved::Float),
        Hint::DigitOrSign => resolve_number_like(text),
    }
}

/// go-yaml's `isBase60Float`: sexagesimal look-alikes (`12:30:00`), which it
/// never reads as numbers but still quotes on output for other parsers.
pub(super) fn is_base60_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !(first == b'+' || first == b'-' || first.is_ascii_digit()) || !bytes.contains(&b':') {
        return false;
    }
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let mut idx = usize::from(first == b'+' || first == b'-');
    if !bytes.get(idx).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    idx += 1;
    while bytes.get(idx).is_some_and(|b| b.is_ascii_digit() || *b == b'_') {
        idx += 1;
    }
    let mut groups = 0;
    while bytes.get(idx) == Some(&b':') {
        idx += 1;
        let run = bytes[idx..].iter().take_while(|b| b.is_ascii_digit()).count();
        let fits = run == 1 || (run == 2 && bytes[idx] <= b'5');
        if !fits {
            return false;
        }
        idx += run;
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if bytes.get(idx) == Some(&b'.') {
        idx += 1;
        while bytes.get(idx).is_some_and(|b| b.is_ascii_digit() || *b == b'_') {
            idx += 1;
        }
    }
    idx == bytes.len()
}

/// The first-byte classes of go-yaml's `resolveTable`.
#[derive(Clone, Copy)]
enum Hint {
    /// `+ - 0-9`: number or timestamp.
    DigitOrSign,
    /// `.`: `.inf`/`.nan` or a float like `.5`.
    Dot,
    /// `yYnNtTfFoO~` and the empty string: only the table can match.
    Table,
}

fn hint_of(first: u8) -> Option<Hint> {
    match first {
        b'+' | b'-' | b'0'..=b'9' => Some(Hint::DigitOrSign),
        b'.' => Some(Hint::Dot),
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => Some(Hint::Table),
        _ => None,
    }
}

/// go-yaml's `resolveMap`. Its `<<` (merge) entry is unreachable for plain
/// scalars: `<` has no hint, so the table is never consulted.
fn lookup_table(text: &str) -> Option<Resolved> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Resolved::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Resolved::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// The `D`/`S` branch: timestamp, then int, uint, float, then the `0b`
/// forms with a sign after the prefix.
fn resolve_number_like(text: &str) -> Resolved {
    if parse_timestamp(text) {
        return Resolved::Timestamp;
    }
    let plain: String = text.chars().filter(|ch| *ch != '_').collect();
    if let Some(int) = go_parse_int(&plain, 0) {
        return Resolved::Int(int);
    }
    if let Some(uint) = go_parse_uint(&plain, 0) {
        return Resolved::Uint(uint);
    }
    if is_yaml_style_float(&plain) {
        if let Some(float) = parse_finite_float(&plain) {
            return Resolved::Float(float);
        }
    }
    if let Some(rest) = plain.strip_prefix("0b") {
        if let Some(int) = go_parse_int(rest, 2) {
            return Resolved::Int(int);
        }
        if let Some(uint) = go_parse_uint(rest, 2) {
            return Resolved::Uint(uint);
        }
    } else if let Some(rest) = plain.strip_prefix("-0b") {
        if let Some(int) = go_parse_int(&format!("-{rest}"), 2) {
            return Resolved::Int(int);
        }
    }
    Resolved::Str
}

/// `strconv.ParseUint(text, base, 64)` for base 0 (prefixes `0b`, `0o`,
/// `0x`, leading `0` = octal) or an explicit base. Callers have removed
/// underscores already.
fn go_parse_uint(text: &str, base: u32) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let (digits, base) = if base == 0 {
        if bytes[0] == b'0' {
            match bytes.get(1).map(u8::to_ascii_lowercase) {
                Some(b'b') if bytes.len() >= 3 => (&bytes[2..], 2),
                Some(b'o') if bytes.len() >= 3 => (&bytes[2..], 8),
                Some(b'x') if bytes.len() >= 3 => (&bytes[2..], 16),
                _ => (&bytes[1..], 8),
            }
        } else {
            (bytes, 10)
        }
    } else {
        (bytes, base)
    };
    let mut value: u64 = 0;
    for &byte in digits {
        let digit = char::from(byte).to_digit(36)?;
        if digit >= base {
            return None;
        }
        value = value.checked_mul(u64::from(base))?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// `strconv.ParseInt(text, base, 64)`: an optional sign, then
/// [`go_parse_uint`], then the int64 range check.
fn go_parse_int(text: &str, base: u32) -> Option<i64> {
    let (negative, magnitude) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let magnitude = go_parse_uint(magnitude, base)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// go-yaml's `yamlStyleFloat` regular expression,
/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |idx: usize| bytes[idx..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut idx = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    if bytes.get(idx) == Some(&b'.') {
        let run = digits_from(idx + 1);
        if run == 0 {
            return false;
        }
        idx += 1 + run;
    } else {
        let run = digits_from(idx);
        if run == 0 {
            return false;
        }
        idx += run;
        if bytes.get(idx) == Some(&b'.') {
            idx += 1 + digits_from(idx + 1);
        }
    }
    if matches!(bytes.get(idx), Some(b'e' | b'E')) {
        idx += 1;
        if matches!(bytes.get(idx), Some(b'+' | b'-')) {
            idx += 1;
        }
        let run = digits_from(idx);
        if run == 0 {
            return false;
        }
        idx += run;
    }
    idx == bytes.len()
}

/// A float64 from text that is already known to be decimal float syntax;
/// `None` where Go's `ParseFloat` reports a range error (overflow to
/// infinity; underflow to zero is not an error).
fn parse_finite_float(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `strconv.ParseFloat(text, 64)` for text starting with `.` (the only
/// caller): Go's decimal float syntax, where underscores may sit between
/// digits, and no range error.
fn go_parse_float(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut idx = 0;
    let mut saw_dot = false;
    let mut saw_digits = false;
    let mut underscores = false;
    while let Some(&byte) = bytes.get(idx) {
        match byte {
            b'_' => underscores = true,
            b'.' if !saw_dot => saw_dot = true,
            b'0'..=b'9' => saw_digits = true,
            _ => break,
        }
        idx += 1;
    }
    if !saw_digits {
        return None;
    }
    if matches!(bytes.get(idx), Some(b'e' | b'E')) {
        idx += 1;
        if matches!(bytes.get(idx), Some(b'+' | b'-')) {
            idx += 1;
        }
        if !bytes.get(idx).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while let Some(&byte) = bytes.get(idx) {
            match byte {
                b'_' => underscores = true,
                b'0'..=b'9' => {}
                _ => break,
            }
            idx += 1;
        }
    }
    if idx != bytes.len() || (underscores && !go_underscore_ok(text)) {
        return None;
    }
    let digits: String = text.chars().filter(|ch| *ch != '_').collect();
    parse_finite_float(&digits)
}

/// strconv's `underscoreOK` for decimal text: every underscore sits between
/// two digits.
fn go_underscore_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    let bytes = match bytes.first() {
        Some(b'+' | b'-') => &bytes[1..],
        _ => bytes,
    };
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Start;
    for &byte in bytes {
        if byte.is_ascii_digit() {
            saw = Saw::Digit;
        } else if byte == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else {
            if saw == Saw::Underscore {
                return false;
            }
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

/// go-yaml's `parseTimestamp`: text starting with four digits and `-` that
/// Go's `time.Parse` accepts with one of its four layouts.
fn parse_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    let year_digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if year_digits != 4 || bytes.get(4) != Some(&b'-') {
        return false;
    }
    TIMESTAMP_LAYOUTS.iter().any(|layout| parses_with_layout(bytes, layout))
}

/// Pieces of the Go layouts go-yaml tries, in its order:
/// `2006-1-2T15:4:5.999999999Z07:00`, the same with a lower-case `t`,
/// `2006-1-2 15:4:5.999999999` and `2006-1-2`.
#[derive(Clone, Copy)]
enum LayoutPiece {
    Literal(u8),
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
    ZoneWithColon,
}

const TIMESTAMP_LAYOUTS: [&[LayoutPiece]; 4] = {
    use LayoutPiece::*;
    [
        &[
            Year,
            Literal(b'-'),
            Month,
            Literal(b'-'),
            Day,
            Literal(b'T'),
            Hour,
            Literal(b':'),
            Minute,
            Literal(b':'),
            Second,
            Fraction,
            ZoneWithColon,
        ],
        &[
            Year,
            Literal(b'-'),
            Month,
            Literal(b'-'),
            Day,
            Literal(b't'),
            Hour,
            Literal(b':'),
            Minute,
            Literal(b':'),
            Second,
            Fraction,
            ZoneWithColon,
        ],
        &[
            Year,
            Literal(b'-'),
            Month,
            Literal(b'-'),
            Day,
            Literal(b' '),
            Hour,
            Literal(b':'),
            Minute,
            Literal(b':'),
            Second,
            Fraction,
        ],
        &[Year, Literal(b'-'), Month, Literal(b'-'), Day],
    ]
};

/// Go's `time.Parse` restricted to the pieces above: one- or two-digit
/// fields with range checks, a space in the layout matching one or more
/// spaces, an optional fraction of any length after the seconds, `Z` or
/// `±hh:mm` as the zone, no trailing text, and the day checked against the
/// month length at the end.
fn parses_with_layout(text: &[u8], layout: &[LayoutPiece]) -> bool {
    let mut rest = text;
    let (mut year, mut month, mut day) = (0i64, 0i64, 0i64);
    for piece in layout {
        match *piece {
            LayoutPiece::Literal(b' ') => {
                if rest.first().is_some_and(|b| *b != b' ') {
                    return false;
                }
                while rest.first() == Some(&b' ') {
                    rest = &rest[1..];
                }
            }
            LayoutPiece::Literal(byte) => match rest.split_first() {
                Some((first, tail)) if *first == byte => rest = tail,
                _ => return false,
            },
            LayoutPiece::Year => {
                if rest.len() < 4 || !rest[..4].iter().all(u8::is_ascii_digit) {
                    return false;
                }
                year = rest[..4].iter().fold(0, |acc, b| acc * 10 + i64::from(b - b'0'));
                rest = &rest[4..];
            }
            LayoutPiece::Month => match go_getnum(&mut rest) {
                Some(value @ 1..=12) => month = value,
                _ => return false,
            },
            LayoutPiece::Day => match go_getnum(&mut rest) {
                Some(value) => day = value,
                None => return false,
            },
            LayoutPiece::Hour => {
                if go_getnum(&mut rest).is_none_or(|value| value >= 24) {
                    return false;
                }
            }
            LayoutPiece::Minute | LayoutPiece::Second => {
                if go_getnum(&mut rest).is_none_or(|value| value >= 60) {
                    return false;
                }
            }
            LayoutPiece::Fraction => {
                let has_fraction = rest.len() >= 2 && (rest[0] == b'.' || rest[0] == b',') && rest[1].is_ascii_digit();
                if has_fraction {
                    let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                    rest = &rest[1 + digits..];
                }
            }
            LayoutPiece::ZoneWithColon => {
                if rest.first() == Some(&b'Z') {
                    rest = &rest[1..];
                    continue;
                }
                if rest.len() < 6 || rest[3] != b':' {
                    return false;
                }
                let two_digits = |pair: &[u8]| {
                    (pair[0].is_ascii_digit() && pair[1].is_ascii_digit())
                        .then(|| i64::from(pair[0] - b'0') * 10 + i64::from(pair[1] - b'0'))
                };
                let (Some(hours), Some(minutes)) = (two_digits(&rest[1..3]), two_digits(&rest[4..6])) else {
                    return false;
                };
                if hours > 24 || minutes > 60 || !matches!(rest[0], b'+' | b'-') {
                    return false;
                }
                rest = &rest[6..];
            }
        }
    }
    rest.is_empty() && day >= 1 && day <= days_in_month(month, year)
}

/// Go's `getnum(s, false)`: one digit, or two if the second is a digit.
fn go_getnum(rest: &mut &[u8]) -> Option<i64> {
    let first = *rest.first().filter(|b| b.is_ascii_digit())?;
    let mut value = i64::from(first - b'0');
    let mut used = 1;
    if let Some(second) = rest.get(1).filter(|b| b.is_ascii_digit()) {
        value = value * 10 + i64::from(second - b'0');
        used = 2;
    }
    *rest = &rest[used..];
    Some(value)
}

fn days_in_month(month: i64, year: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_str(text: &str) -> bool {
        resolve_plain(text) == Resolved::Str
    }

    #[test]
    fn table_words_resolve_to_bool_and_null() {
        for word in ["y", "Yes", "ON", "true", "False", "off", "N"] {
            assert!(matches!(resolve_plain(word), Resolved::Bool(_)), "{word}");
        }
        for word in ["", "~", "null", "NULL"] {
            assert_eq!(resolve_plain(word), Resolved::Null, "{word}");
        }
        for word in ["yEs", "nO", "tRUE", "nil", "<<", "=", "Nope"] {
            assert!(is_str(word), "{word}");
        }
    }

    #[test]
    fn numbers_follow_go_strconv() {
        assert_eq!(resolve_plain("42"), Resolved::Int(42));
        assert_eq!(resolve_plain("-0"), Resolved::Int(0));
        assert_eq!(resolve_plain("+1"), Resolved::Int(1));
        assert_eq!(resolve_plain("0755"), Resolved::Int(493));
        assert_eq!(resolve_plain("012"), Resolved::Int(10));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
        assert_eq!(resolve_plain("1_000"), Resolved::Int(1000));
        assert_eq!(resolve_plain("0b-1"), Resolved::Int(-1));
        assert_eq!(resolve_plain("-0b11"), Resolved::Int(-3));
        assert_eq!(resolve_plain("12345678901234567000"), Resolved::Uint(12345678901234567000));
        assert_eq!(resolve_plain("1.0"), Resolved::Float(1.0));
        assert_eq!(resolve_plain("08"), Resolved::Float(8.0));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain(".5_0"), Resolved::Float(0.5));
        assert_eq!(resolve_plain("-12345678901234567890"), Resolved::Float(-12345678901234567890.0));
        assert!(is_str("1e400"));
        assert!(is_str(".5_"));
        assert!(is_str("."));
        assert!(is_str("+"));
        assert!(is_str("1.2.3"));
        assert!(is_str("0b"));
        assert!(is_str("1-2"));
    }

    #[test]
    fn timestamps_follow_go_time_parse() {
        for text in [
            "2021-01-01",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14T21:59:43Z",
            "2001-12-14 21:59:43.10",
            "2001-12-14   1:2:3",
            "2020-2-29",
        ] {
            assert_eq!(resolve_plain(text), Resolved::Timestamp, "{text}");
        }
        for text in ["2021-02-30", "2019-2-29", "2021-13-01", "2021-01-01T10:00:00", "2021-01-01x"] {
            assert_ne!(resolve_plain(text), Resolved::Timestamp, "{text}");
        }
    }

    #[test]
    fn base60_look_alikes() {
        assert!(is_base60_float("12:30:00"));
        assert!(is_base60_float("-1:5.5"));
        assert!(is_base60_float("190:20:30.15"));
        assert!(!is_base60_float("12:60"));
        assert!(!is_base60_float("12:"));
        assert!(!is_base60_float("a:1"));
        assert!(!is_base60_float("1:2:345"));
    }
}
