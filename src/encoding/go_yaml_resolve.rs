//! go-yaml v2.4.4's implicit typing of plain scalars (`resolve.go`, with
//! the Go `strconv` and `time.Parse` rules it leans on), in one place for
//! both directions of opm's YAML path.
//!
//! opm never sees YAML 1.2: sigs.k8s.io/yaml hands every document to go-yaml
//! v2, whose resolver turns `yes`/`on`/`y` into booleans, `0755` into 493,
//! `1_000` into 1000 and `.inf` into a float. The same function runs when
//! opm reads a manifest ([`yaml_in`](super::yaml_in)) and twice when it
//! writes YAML ([`yaml_out`](super::yaml_out)): `JSONToYAML` reads each JSON
//! number back through it (so `1.0` prints as `1`), and the encoder asks it
//! whether a string written plain would read back as a string (so `"yes"`,
//! `"0755"` or `"2021-01-01"` get quoted). Sharing one implementation keeps
//! the reader and the writer from drifting apart on an edge case.
//!
//! The order of the attempts matters and follows go-yaml: fixed words, then
//! for text starting with a digit or sign a timestamp, `ParseInt`,
//! `ParseUint`, the float pattern, and last the `0b` forms with a sign after
//! the prefix. So `08` (not octal) is a float, `18446744073709551616` (too
//! big for both integers) is a float, `0b-1` is -1, and `1e400` (float out
//! of range) and `<<` (first byte has no hint) stay strings.

/// What an untagged plain scalar resolves to, with the value Go's
/// `interface{}` would hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    /// Go `int` (64 bits on every platform opm ships for).
    Int(i64),
    /// Go `uint64`: positive integers above `i64::MAX`.
    Uint(u64),
    Float(f64),
    /// A `time.Time`; callers keep the text.
    Timestamp,
    /// Not any of the above: the text is a string.
    Str,
}

impl Resolved {
    /// The short name of the tag go-yaml resolved to (`int` for `!!int`).
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Resolved::Null => "null",
            Resolved::Bool(_) => "bool",
            Resolved::Int(_) | Resolved::Uint(_) => "int",
            Resolved::Float(_) => "float",
            Resolved::Timestamp => "timestamp",
            Resolved::Str => "str",
        }
    }
}

/// `resolve("", text)`: an untagged plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Resolved {
    resolve(text, true)
}

/// `resolve(tag, text)` for an empty or resolvable non-`!!str` tag, before
/// go-yaml checks the result against the tag. `try_timestamp` is false when
/// an explicit tag other than `!!timestamp` is given: go-yaml only tries the
/// timestamp layouts for untagged or `!!timestamp` scalars.
pub(crate) fn resolve(text: &str, try_timestamp: bool) -> Resolved {
    // The empty string has the hint `N` and is looked up in the table (null).
    let hint = match text.as_bytes().first() {
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
        Hint::Dot => parse_dot_float(text).map_or(Resolved::Str, Resolved::Float),
        Hint::DigitOrSign => resolve_number_like(text, try_timestamp),
    }
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

/// go-yaml's `resolveMap`. Its `<<` (merge) entry is unreachable here: `<`
/// has no hint, so the table is never consulted for it (merge keys are
/// recognised by the decoder on the node, not by resolution).
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
/// forms with a sign after the prefix (`strconv.ParseInt(plain[2:], 2, 64)`
/// accepts one).
fn resolve_number_like(text: &str, try_timestamp: bool) -> Resolved {
    if try_timestamp && is_timestamp(text) {
        return Resolved::Timestamp;
    }
    let plain: String = text.chars().filter(|ch| *ch != '_').collect();
    if let Some(int) = go_parse_int(&plain, 0) {
        return Resolved::Int(int);
    }
    if let Some(uint) = go_parse_uint(&plain, 0) {
        return Resolved::Uint(uint);
    }
    if is_yaml_style_float(&plain)
        && let Some(float) = parse_finite_float(&plain)
    {
        return Resolved::Float(float);
    }
    if let Some(rest) = plain.strip_prefix("0b") {
        if let Some(int) = go_parse_int(rest, 2) {
            return Resolved::Int(int);
        }
        if let Some(uint) = go_parse_uint(rest, 2) {
            return Resolved::Uint(uint);
        }
    } else if let Some(rest) = plain.strip_prefix("-0b")
        && let Some(int) = go_parse_int(&format!("-{rest}"), 2)
    {
        return Resolved::Int(int);
    }
    Resolved::Str
}

/// `strconv.ParseUint(text, base, 64)` for base 0 (prefixes `0b`, `0o`,
/// `0x`, a leading `0` for octal) or an explicit base; `None` for Go's
/// syntax and range errors alike. Callers have removed underscores already.
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

/// A float64 from text already known to be decimal float syntax; `None`
/// where Go's `ParseFloat` reports a range error (overflow to infinity;
/// underflow to zero is not an error).
fn parse_finite_float(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `strconv.ParseFloat(text, 64)` for text starting with `.` (go-yaml's `.`
/// hint, the only caller): `.` and digits, an optional exponent, with
/// underscores allowed between digits as in Go literals. For such text Go's
/// grammar is the float pattern once the underscores are checked and gone.
fn parse_dot_float(text: &str) -> Option<f64> {
    if text.contains('_') && !underscore_ok(text) {
        return None;
    }
    let plain: String = text.chars().filter(|ch| *ch != '_').collect();
    if !is_yaml_style_float(&plain) {
        return None;
    }
    parse_finite_float(&plain)
}

/// strconv's `underscoreOK` for decimal text (no base prefix): every
/// underscore sits between two digits.
fn underscore_ok(text: &str) -> bool {
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

/// go-yaml's `parseTimestamp`: the text starts with exactly four digits and
/// a `-`, and Go's `time.Parse` accepts it with one of the layouts
/// `2006-1-2T15:4:5.999999999Z07:00`, the same with a lower-case `t`,
/// `2006-1-2 15:4:5.999999999` or `2006-1-2`: one- or two-digit fields with
/// range checks, a layout space matching one or more spaces, a fraction of
/// any length after the seconds, `Z` or `±hh:mm` as the zone, no trailing
/// text, and the day checked against the month length at the end.
pub(crate) fn is_timestamp(text: &str) -> bool {
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
    let time_ok = match rest[0] {
        b'T' | b't' => parse_clock(&rest[1..]).is_some_and(parse_zone),
        b' ' => {
            let n_spaces = rest.iter().take_while(|&&b| b == b' ').count();
            parse_clock(&rest[n_spaces..]).is_some_and(<[u8]>::is_empty)
        }
        _ => false,
    };
    time_ok && day_valid
}

/// Go's `getnum(value, false)`: one digit, or two if the second is a digit.
fn one_or_two_digits(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let first = *bytes.first().filter(|b| b.is_ascii_digit())?;
    match bytes.get(1) {
        Some(second) if second.is_ascii_digit() => Some((u32::from(first - b'0') * 10 + u32::from(second - b'0'), &bytes[2..])),
        _ => Some((u32::from(first - b'0'), &bytes[1..])),
    }
}

/// `2006-1-2` (the caller has checked the four year digits and the `-`);
/// returns year, month, day and what follows.
fn parse_date(bytes: &[u8]) -> Option<(u32, u32, u32, &[u8])> {
    let year = bytes[..4].iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
    let rest = bytes[4..].strip_prefix(b"-")?;
    let (month, rest) = one_or_two_digits(rest)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let rest = rest.strip_prefix(b"-")?;
    let (day, rest) = one_or_two_digits(rest)?;
    Some((year, month, day, rest))
}

/// `15:4:5` with an optional `.` or `,` fraction; returns what follows.
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

/// `Z07:00` ending the text: `Z`, or a sign, two digits, `:`, two digits
/// (Go allows offsets up to 24 hours and 60 minutes).
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
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml's `isBase60Float` (`encode.go`): sexagesimal look-alikes
/// (`12:30:00`), which it never reads as numbers but still quotes on output
/// for other parsers. Only the writer asks.
pub(crate) fn is_base60_float(text: &str) -> bool {
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
        assert_eq!(resolve_plain("-.Inf"), Resolved::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve_plain(".NaN"), Resolved::Float(nan) if nan.is_nan()));
    }

    #[test]
    fn numbers_follow_go_strconv() {
        assert_eq!(resolve_plain("42"), Resolved::Int(42));
        assert_eq!(resolve_plain("-0"), Resolved::Int(0));
        assert_eq!(resolve_plain("+1"), Resolved::Int(1));
        assert_eq!(resolve_plain("0755"), Resolved::Int(493));
        assert_eq!(resolve_plain("012"), Resolved::Int(10));
        assert_eq!(resolve_plain("00"), Resolved::Int(0));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
        assert_eq!(resolve_plain("1_000"), Resolved::Int(1000));
        assert_eq!(resolve_plain("-0b11"), Resolved::Int(-3));
        assert_eq!(resolve_plain("-9223372036854775808"), Resolved::Int(i64::MIN));
        assert_eq!(resolve_plain("12345678901234567000"), Resolved::Uint(12345678901234567000));
        assert_eq!(resolve_plain("18446744073709551615"), Resolved::Uint(u64::MAX));
        assert_eq!(resolve_plain("18446744073709551616"), Resolved::Float(18446744073709551616.0));
        assert_eq!(resolve_plain("1.0"), Resolved::Float(1.0));
        assert_eq!(resolve_plain("08"), Resolved::Float(8.0));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("-.5"), Resolved::Float(-0.5));
        assert_eq!(resolve_plain("-12345678901234567890"), Resolved::Float(-12345678901234567890.0));
        for text in ["1e400", "+", "1.2.3", "0b", "0x", "1-2", "-0b-1", "99999999999999999999x"] {
            assert!(is_str(text), "{text}");
        }
    }

    /// The reader used to miss go-yaml's last resort for `0b`: after base 0
    /// fails on `0b-1`, `strconv.ParseInt("-1", 2, 64)` accepts the sign.
    #[test]
    fn binary_prefix_takes_a_sign_after_it() {
        assert_eq!(resolve_plain("0b-1"), Resolved::Int(-1));
        assert_eq!(resolve_plain("0b+1"), Resolved::Int(1));
        assert_eq!(resolve_plain("0b-0"), Resolved::Int(0));
        assert_eq!(resolve_plain("0b_1"), Resolved::Int(1));
    }

    #[test]
    fn floats_after_a_dot_follow_go_parse_float() {
        assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain(".5_0"), Resolved::Float(0.5));
        assert_eq!(resolve_plain(".5e3_0"), Resolved::Float(0.5e30));
        // Underflow to zero is not a range error in Go; overflow is.
        assert_eq!(resolve_plain(".5e-400"), Resolved::Float(0.0));
        for text in [".", ".5_", "._5", ".5_e3", ".5e400", ".e5", ".5."] {
            assert!(is_str(text), "{text}");
        }
    }

    #[test]
    fn timestamps_follow_go_time_parse() {
        for text in [
            "2021-01-01",
            "2020-02-29",
            "2020-2-29",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14T21:59:43Z",
            "2019-05-30T22:40:00+02:00",
            "2001-12-14 21:59:43.10",
            "2001-12-14 21:59:43,10",
            "2001-12-14   1:2:3",
        ] {
            assert_eq!(resolve_plain(text), Resolved::Timestamp, "{text}");
            assert!(is_timestamp(text), "{text}");
        }
        for text in [
            "2021-02-30",
            "2019-02-29",
            "2021-13-01",
            "2021-01-01T10:00:00",
            "2019-05-30T24:00:00Z",
            "2021-01-01T10:00:00Zx",
            "2021-01-01x",
            "20190-05-30",
        ] {
            assert!(!is_timestamp(text), "{text}");
        }
        // With an explicit non-timestamp tag the layouts are not tried.
        assert_eq!(resolve("2021-01-01", false), Resolved::Str);
    }

    #[test]
    fn tags_name_the_resolved_kind() {
        assert_eq!(resolve_plain("18446744073709551615").tag(), "int");
        assert_eq!(resolve_plain("2021-01-01").tag(), "timestamp");
        assert_eq!(resolve_plain("~").tag(), "null");
        assert_eq!(resolve_plain("x").tag(), "str");
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
