//! Go's `strconv` as far as its exact text ends up in opm's messages:
//! `strconv.Quote` (every `%q`, in blang's, the model's and go-yaml's
//! errors alike) and the `ParseUint`/`Atoi` errors.

/// Go's `strconv.Quote` (what `%q` prints for a string): double quotes,
/// `\"` and `\\` escaped, printable runes kept as they are, the rest as
/// `\a \b \f \n \r \t \v`, `\xNN` (below U+0020 and U+007F), `\uNNNN` or
/// `\UNNNNNNNN`.
///
/// Go decides "printable" with its Unicode tables (letters, marks, numbers,
/// punctuation, symbols and U+0020). Without those tables this treats as
/// non-printable: control characters, every space other than U+0020,
/// the common format characters, private-use code points and
/// non-characters. Unassigned code points are the known difference (Go
/// escapes them, this keeps them).
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            _ if is_go_printable(ch) => out.push(ch),
            _ if (ch as u32) < 0x20 || ch == '\u{7f}' => out.push_str(&format!("\\x{:02x}", ch as u32)),
            _ if (ch as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", ch as u32)),
            _ => out.push_str(&format!("\\U{:08x}", ch as u32)),
        }
    }
    out.push('"');
    out
}

fn is_go_printable(ch: char) -> bool {
    if ch == ' ' {
        return true;
    }
    if ch.is_control() || ch.is_whitespace() {
        return false;
    }
    let code = ch as u32;
    let format_or_private = matches!(
        code,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xE000..=0xF8FF
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xF0000..=0x10FFFF
    );
    let non_character = (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE;
    !(format_or_private || non_character)
}

/// `strconv.ParseUint(text, 10, 64)` for text already known to hold only
/// ASCII digits (blang checks that first), with Go's error texts.
pub(crate) fn parse_uint(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err(format!("strconv.ParseUint: parsing {}: invalid syntax", go_quote(text)));
    }
    text.parse::<u64>()
        .map_err(|_| format!("strconv.ParseUint: parsing {}: value out of range", go_quote(text)))
}

/// `strconv.Atoi`: optional sign, decimal digits, 64-bit range. blang
/// throws the error away, so only success matters.
pub(crate) fn atoi(text: &str) -> Option<i64> {
    text.parse::<i64>().ok()
}
