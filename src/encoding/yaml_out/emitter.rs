//! go-yaml v2.4.4's encoder and emitter (`encode.go`, `emitterc.go`) for the
//! trees `JSONToYAML` produces: block mappings and sequences, `{}` and `[]`
//! for empty ones, and scalars.
//!
//! The emitter is a port of libyaml's logic, kept close to it because its
//! output depends on small state flags (`whitespace`, `indention`, the
//! column): where a `- ` goes, when a line is folded, when a key needs the
//! `? ` form. Settings are go-yaml's defaults: indent 2, line width 80
//! (sigs.k8s.io/yaml does not call `FutureLineWrap`, so long plain and quoted
//! scalars with spaces are folded), unicode output on, `\n` breaks.

use super::Node;
use crate::encoding::go_yaml_resolve::{Resolved, is_base60_float, resolve_plain};

/// The YAML text of one document, ending in a newline, without `---`.
pub(super) fn emit_document(root: &Node) -> Vec<u8> {
    let mut emitter = Emitter {
        out: Vec::new(),
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
        mapping_context: false,
        simple_key_context: false,
    };
    emitter.emit_node(root, false, false);
    // DOCUMENT-END: finish the last line.
    emitter.write_indent();
    emitter.out
}

const BEST_INDENT: isize = 2;
const BEST_WIDTH: usize = 80;
/// Longest key (in bytes) written as `key: value`; longer ones get `? key`.
const MAX_SIMPLE_KEY_LENGTH: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// What `yaml_emitter_analyze_scalar` finds out about a scalar's text.
#[derive(Debug, Clone, Copy)]
struct ScalarAnalysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

struct Emitter {
    out: Vec<u8>,
    column: usize,
    indent: isize,
    indents: Vec<isize>,
    /// The last character written was whitespace (or nothing yet).
    whitespace: bool,
    /// Only indentation has been written on the current line.
    indention: bool,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn emit_node(&mut self, node: &Node, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match node {
            Node::Seq(items) if items.is_empty() => self.emit_empty_flow(b'[', b']'),
            Node::Map(entries) if entries.is_empty() => self.emit_empty_flow(b'{', b'}'),
            Node::Seq(items) => self.emit_block_sequence(items),
            Node::Map(entries) => self.emit_block_mapping(entries),
            Node::Str(text) => self.emit_scalar(text.as_bytes(), string_style(text)),
            Node::Null => self.emit_scalar(b"null", ScalarStyle::Plain),
            Node::Bool(flag) => self.emit_scalar(if *flag { b"true" } else { b"false" }, ScalarStyle::Plain),
            Node::Int(int) => self.emit_scalar(int.to_string().as_bytes(), ScalarStyle::Plain),
            Node::Uint(uint) => self.emit_scalar(uint.to_string().as_bytes(), ScalarStyle::Plain),
            Node::Float(float) => self.emit_scalar(format_go_float_g(*float).as_bytes(), ScalarStyle::Plain),
        }
    }

    /// An empty collection: the emitter switches to flow style for it. As
    /// only empty ones are written in flow style, every scalar is written in
    /// block context, and the flow-context rules of libyaml never apply.
    fn emit_empty_flow(&mut self, open: u8, close: u8) {
        self.write_indicator(&[open], true, true, false);
        self.write_indicator(&[close], false, false, false);
    }

    fn emit_block_sequence(&mut self, items: &[Node]) {
        // A sequence that is a mapping value, written on the key's line, is
        // not indented: `key:\n- a`.
        let indentless = self.mapping_context && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator(b"-", true, false, true);
            self.emit_node(item, false, false);
        }
        self.pop_indent();
    }

    fn emit_block_mapping(&mut self, entries: &[(String, Node)]) {
        self.increase_indent(false, false);
        for (key, value) in entries {
            self.write_indent();
            let simple = !analyze_scalar(key.as_bytes()).multiline && key.len() <= MAX_SIMPLE_KEY_LENGTH;
            if simple {
                self.emit_key(key, true);
                self.write_indicator(b":", false, false, false);
            } else {
                self.write_indicator(b"?", true, false, true);
                self.emit_key(key, false);
                self.write_indent();
                self.write_indicator(b":", true, false, true);
            }
            self.emit_node(value, true, false);
        }
        self.pop_indent();
    }

    fn emit_key(&mut self, key: &str, simple_key: bool) {
        self.mapping_context = true;
        self.simple_key_context = simple_key;
        self.emit_scalar(key.as_bytes(), string_style(key));
    }

    fn emit_scalar(&mut self, value: &[u8], requested: ScalarStyle) {
        let analysis = analyze_scalar(value);
        let style = self.select_scalar_style(value, requested, &analysis);
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match style {
            ScalarStyle::Plain => self.write_plain(value, allow_breaks),
            ScalarStyle::SingleQuoted => self.write_single_quoted(value, allow_breaks),
            ScalarStyle::DoubleQuoted => self.write_double_quoted(value, allow_breaks),
            ScalarStyle::Literal => self.write_literal(value),
        }
        self.pop_indent();
    }

    /// `yaml_emitter_select_scalar_style` for untagged, implicit scalars in
    /// block context.
    fn select_scalar_style(&self, value: &[u8], requested: ScalarStyle, analysis: &ScalarAnalysis) -> ScalarStyle {
        let mut style = requested;
        if self.simple_key_context && analysis.multiline {
            style = ScalarStyle::DoubleQuoted;
        }
        if style == ScalarStyle::Plain && (!analysis.block_plain_allowed || (value.is_empty() && self.simple_key_context)) {
            style = ScalarStyle::SingleQuoted;
        }
        if style == ScalarStyle::SingleQuoted && !analysis.single_quoted_allowed {
            style = ScalarStyle::DoubleQuoted;
        }
        if style == ScalarStyle::Literal && (!analysis.block_allowed || self.simple_key_context) {
            style = ScalarStyle::DoubleQuoted;
        }
        style
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn put(&mut self, byte: u8) {
        self.out.push(byte);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push(b'\n');
        self.column = 0;
    }

    /// Copies one character (all its bytes) and advances `idx` past it.
    fn write_char(&mut self, value: &[u8], idx: &mut usize) {
        let width = char_width(value[*idx]).max(1);
        let end = (*idx + width).min(value.len());
        self.out.extend_from_slice(&value[*idx..end]);
        self.column += 1;
        *idx = end;
    }

    /// Copies a line break: `\n` as the output break, others (U+2028…) as
    /// they are.
    fn write_break(&mut self, value: &[u8], idx: &mut usize) {
        if value[*idx] == b'\n' {
            self.put_break();
            *idx += 1;
        } else {
            self.write_char(value, idx);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent.max(0)).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(b' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, indicator: &[u8], need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(b' ');
        }
        let mut idx = 0;
        while idx < indicator.len() {
            self.write_char(indicator, &mut idx);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write_plain(&mut self, value: &[u8], allow_breaks: bool) {
        if !self.whitespace {
            self.put(b' ');
        }
        let mut spaces = false;
        let mut breaks = false;
        let mut idx = 0;
        while idx < value.len() {
            if is_space(value, idx) {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !is_space(value, idx + 1) {
                    self.write_indent();
                    idx += 1;
                } else {
                    self.write_char(value, &mut idx);
                }
                spaces = true;
            } else if is_break(value, idx) {
                if !breaks && value[idx] == b'\n' {
                    self.put_break();
                }
                self.write_break(value, &mut idx);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(value, &mut idx);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, value: &[u8], allow_breaks: bool) {
        self.write_indicator(b"'", true, false, false);
        let mut spaces = false;
        let mut breaks = false;
        let mut idx = 0;
        while idx < value.len() {
            if is_space(value, idx) {
                let fold =
                    allow_breaks && !spaces && self.column > BEST_WIDTH && idx > 0 && idx < value.len() - 1 && !is_space(value, idx + 1);
                if fold {
                    self.write_indent();
                    idx += 1;
                } else {
                    self.write_char(value, &mut idx);
                }
                spaces = true;
            } else if is_break(value, idx) {
                if !breaks && value[idx] == b'\n' {
                    self.put_break();
                }
                self.write_break(value, &mut idx);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if value[idx] == b'\'' {
                    self.put(b'\'');
                }
                self.write_char(value, &mut idx);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator(b"'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &[u8], allow_breaks: bool) {
        self.write_indicator(b"\"", true, false, false);
        let mut spaces = false;
        let mut idx = 0;
        while idx < value.len() {
            let needs_escape =
                !is_printable(value, idx) || starts_with_bom(value) || is_break(value, idx) || value[idx] == b'"' || value[idx] == b'\\';
            if needs_escape {
                let (code, width) = decode_char(value, idx);
                idx += width;
                self.put(b'\\');
                self.write_escape(code);
                spaces = false;
            } else if is_space(value, idx) {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && idx > 0 && idx < value.len() - 1 {
                    self.write_indent();
                    if is_space(value, idx + 1) {
                        self.put(b'\\');
                    }
                    idx += 1;
                } else {
                    self.write_char(value, &mut idx);
                }
                spaces = true;
            } else {
                self.write_char(value, &mut idx);
                spaces = false;
            }
        }
        self.write_indicator(b"\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// The part after `\` of a double-quoted escape.
    fn write_escape(&mut self, code: u32) {
        let short = match code {
            0x00 => Some(b'0'),
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x09 => Some(b't'),
            0x0A => Some(b'n'),
            0x0B => Some(b'v'),
            0x0C => Some(b'f'),
            0x0D => Some(b'r'),
            0x1B => Some(b'e'),
            0x22 => Some(b'"'),
            0x5C => Some(b'\\'),
            0x85 => Some(b'N'),
            0xA0 => Some(b'_'),
            0x2028 => Some(b'L'),
            0x2029 => Some(b'P'),
            _ => None,
        };
        if let Some(letter) = short {
            self.put(letter);
            return;
        }
        let (letter, digits) = if code <= 0xFF {
            (b'x', 2)
        } else if code <= 0xFFFF {
            (b'u', 4)
        } else {
            (b'U', 8)
        };
        self.put(letter);
        for shift in (0..digits).rev() {
            let digit = (code >> (shift * 4)) & 0x0F;
            self.put(b"0123456789ABCDEF"[digit as usize]);
        }
    }

    fn write_literal(&mut self, value: &[u8]) {
        self.write_indicator(b"|", true, false, false);
        self.write_block_scalar_hints(value);
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        let mut idx = 0;
        while idx < value.len() {
            if is_break(value, idx) {
                self.write_break(value, &mut idx);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(value, &mut idx);
                self.indention = false;
                breaks = false;
            }
        }
    }

    /// The indentation indicator (when the text starts with a space or a
    /// break) and the chomping indicator: `-` without a final break, `+`
    /// with more than one (or only one break in all).
    fn write_block_scalar_hints(&mut self, value: &[u8]) {
        if is_space(value, 0) || is_break(value, 0) {
            let hint = [b'0' + BEST_INDENT as u8];
            self.write_indicator(&hint, false, false, false);
        }
        let chomp = if value.is_empty() {
            Some(b'-')
        } else {
            let last = char_start_before(value, value.len());
            if !is_break(value, last) {
                Some(b'-')
            } else if last == 0 {
                Some(b'+')
            } else {
                let previous = char_start_before(value, last);
                is_break(value, previous).then_some(b'+')
            }
        };
        if let Some(chomp) = chomp {
            self.write_indicator(&[chomp], false, false, false);
        }
    }
}

/// The style go-yaml's encoder asks for a string (`encoder.stringv`): a
/// literal block if it holds `\n`, plain if it would read back as the same
/// string, else double-quoted. The emitter may still overrule it.
fn string_style(text: &str) -> ScalarStyle {
    if text.contains('\n') {
        ScalarStyle::Literal
    } else if resolve_plain(text) == Resolved::Str && !is_base60_float(text) {
        ScalarStyle::Plain
    } else {
        ScalarStyle::DoubleQuoted
    }
}

/// `yaml_emitter_analyze_scalar`.
fn analyze_scalar(value: &[u8]) -> ScalarAnalysis {
    if value.is_empty() {
        return ScalarAnalysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    // Only the block-context indicator rules matter (see `emit_empty_flow`);
    // libyaml's flow indicators (`,` `[` `{` anywhere, `?` `:` at the start)
    // only forbid plain scalars inside flow collections.
    let mut block_indicators = value.starts_with(b"---") || value.starts_with(b"...");
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;

    let mut preceded_by_whitespace = true;
    let mut idx = 0;
    while idx < value.len() {
        let width = char_width(value[idx]).max(1);
        let followed_by_whitespace = idx + width >= value.len() || is_blank(value, idx + width);
        let indicator = if idx == 0 {
            match value[idx] {
                b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' => true,
                b'?' | b':' | b'-' => followed_by_whitespace,
                _ => false,
            }
        } else {
            match value[idx] {
                b':' => followed_by_whitespace,
                b'#' => preceded_by_whitespace,
                _ => false,
            }
        };
        block_indicators |= indicator;

        if !is_printable(value, idx) {
            special_characters = true;
        }
        if is_space(value, idx) {
            if idx == 0 {
                leading_space = true;
            }
            if idx + width == value.len() {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(value, idx) {
            line_breaks = true;
            if idx == 0 {
                leading_break = true;
            }
            if idx + width == value.len() {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blankz(value, idx);
        idx += width;
    }

    let mut analysis = ScalarAnalysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        analysis.block_plain_allowed = false;
    }
    if trailing_space {
        analysis.block_allowed = false;
    }
    if break_space {
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
        analysis.block_allowed = false;
    }
    if line_breaks {
        analysis.block_plain_allowed = false;
    }
    if block_indicators {
        analysis.block_plain_allowed = false;
    }
    analysis
}

/// Go's `strconv.FormatFloat(value, 'g', -1, 64)` with YAML's names for the
/// special values: shortest digits, `%e` form (`1e+06`, `1.5e-07`) when the
/// decimal exponent is below -4 or at least 6.
pub(super) fn format_go_float_g(value: f64) -> String {
    if value.is_nan() {
        return ".nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0");
    }
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|ch| *ch != '.').collect();
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{exponent_sign}{:02}", exponent.abs());
    }
    // Fixed notation; the decimal point sits after `exponent + 1` digits.
    let point = exponent + 1;
    let n_digits = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        format!("{sign}0.{zeros}{digits}")
    } else if point >= n_digits {
        let zeros = "0".repeat(usize::try_from(point - n_digits).unwrap_or(0));
        format!("{sign}{digits}{zeros}")
    } else {
        let (whole, fraction) = digits.split_at(usize::try_from(point).unwrap_or(0));
        format!("{sign}{whole}.{fraction}")
    }
}

// Byte-level character classes of libyaml (`yamlprivateh.go`), reading past
// the end as NUL.

fn byte_at(value: &[u8], idx: usize) -> u8 {
    value.get(idx).copied().unwrap_or(0)
}

fn is_space(value: &[u8], idx: usize) -> bool {
    byte_at(value, idx) == b' '
}

fn is_blank(value: &[u8], idx: usize) -> bool {
    matches!(byte_at(value, idx), b' ' | b'\t')
}

fn is_break(value: &[u8], idx: usize) -> bool {
    let (b0, b1, b2) = (byte_at(value, idx), byte_at(value, idx + 1), byte_at(value, idx + 2));
    b0 == b'\r' || b0 == b'\n' || (b0 == 0xC2 && b1 == 0x85) || (b0 == 0xE2 && b1 == 0x80 && (b2 == 0xA8 || b2 == 0xA9))
}

fn is_blankz(value: &[u8], idx: usize) -> bool {
    is_blank(value, idx) || is_break(value, idx) || byte_at(value, idx) == 0
}

/// libyaml's `is_printable`: LF, printable ASCII, U+00A0..U+D7FF and
/// U+E000..U+FFFD except U+FEFF. Tabs, C0/C1 controls, DEL and every
/// character outside the BMP (emoji) are not printable.
fn is_printable(value: &[u8], idx: usize) -> bool {
    let (b0, b1, b2) = (byte_at(value, idx), byte_at(value, idx + 1), byte_at(value, idx + 2));
    b0 == 0x0A
        || (0x20..=0x7E).contains(&b0)
        || (b0 == 0xC2 && b1 >= 0xA0)
        || (b0 > 0xC2 && b0 < 0xED)
        || (b0 == 0xED && b1 < 0xA0)
        || b0 == 0xEE
        || (b0 == 0xEF && !(b1 == 0xBB && b2 == 0xBF) && !(b1 == 0xBF && (b2 == 0xBE || b2 == 0xBF)))
}

/// libyaml's `is_bom`, which looks at the start of the text whatever the
/// position asked about: a string starting with U+FEFF is escaped entirely.
fn starts_with_bom(value: &[u8]) -> bool {
    value.starts_with(&[0xEF, 0xBB, 0xBF])
}

fn char_width(first: u8) -> usize {
    if first & 0x80 == 0 {
        1
    } else if first & 0xE0 == 0xC0 {
        2
    } else if first & 0xF0 == 0xE0 {
        3
    } else if first & 0xF8 == 0xF0 {
        4
    } else {
        0
    }
}

/// The code point at `idx` and its width in bytes.
fn decode_char(value: &[u8], idx: usize) -> (u32, usize) {
    let first = value[idx];
    let width = char_width(first).max(1);
    let mut code = match width {
        1 => u32::from(first & 0x7F),
        2 => u32::from(first & 0x1F),
        3 => u32::from(first & 0x0F),
        _ => u32::from(first & 0x07),
    };
    for offset in 1..width {
        code = (code << 6) + u32::from(byte_at(value, idx + offset) & 0x3F);
    }
    (code, width)
}

/// The start of the character that ends just before `end`.
fn char_start_before(value: &[u8], end: usize) -> usize {
    let mut idx = end.saturating_sub(1);
    while idx > 0 && value[idx] & 0xC0 == 0x80 {
        idx -= 1;
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_g_format() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.5, "1.2345675e+06"),
            (1e21, "1e+21"),
            (1.2345678901234567e19, "1.2345678901234567e+19"),
            (1e100, "1e+100"),
            (f64::INFINITY, ".inf"),
            (f64::NEG_INFINITY, "-.inf"),
            (f64::NAN, ".nan"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_go_float_g(value), expected, "{value}");
        }
    }

    #[test]
    fn analysis_flags_indicators_and_breaks() {
        assert!(!analyze_scalar(b"- dash").block_plain_allowed);
        assert!(analyze_scalar(b"-dash").block_plain_allowed);
        assert!(!analyze_scalar(b"a #b").block_plain_allowed);
        assert!(analyze_scalar(b"a#b").block_plain_allowed);
        assert!(!analyze_scalar(b"a: b").block_plain_allowed);
        assert!(analyze_scalar(b"a:b").block_plain_allowed);
        assert!(analyze_scalar(b"a,b").block_plain_allowed);
        assert!(!analyze_scalar(b",b").block_plain_allowed);
        let tab = analyze_scalar(b"a\tb");
        assert!(!tab.single_quoted_allowed && !tab.block_allowed);
        let trailing = analyze_scalar(b"a \nb");
        assert!(trailing.multiline && !trailing.block_allowed);
    }
}
