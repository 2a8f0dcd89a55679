//! blang's `ParseRange`: a range is alternatives joined by `||`, each a
//! list of comparisons joined by spaces (AND binds tighter than OR, no
//! brackets). The parse copies blang's steps and their quirks, because
//! `olm.skipRange` values are accepted or refused by exactly these rules:
//! the split on spaces keeps an operator glued to its version (`>= 1.0.0`),
//! drops one-character words, and `x` wildcards are expanded as text before
//! anything is parsed (`>1.2.x` becomes `>=1.3.0`). The operator is
//! whatever precedes the first digit, so `<=v0.10.1` has the operator
//! `<=v` and fails.

use super::Version;
use crate::go::go_quote;
use crate::go::strconv::atoi;
use crate::go::unicode::is_go_digit;

/// A parsed range: `alternatives[i]` holds comparisons that must all hold;
/// a version is in the range when one alternative holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub alternatives: Vec<Vec<Comparison>>,
}

/// One `<operator><version>` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub operator: Operator,
    pub version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`, `==` or no operator.
    Equal,
    /// `!` or `!=`.
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Range {
    /// `semver.ParseRange`; the error text is blang's.
    pub fn parse(text: &str) -> Result<Range, String> {
        let words = split_and_trim(text);
        let or_parts = split_or_parts(&words)?;
        let expanded = expand_wildcard_version(&or_parts)?;
        let mut alternatives = Vec::with_capacity(expanded.len());
        for and_part in expanded {
            let mut comparisons = Vec::with_capacity(and_part.len());
            for word in &and_part {
                let (operator_text, version_text) = split_comparator_version(word)?;
                let comparison = build_comparison(operator_text, version_text)
                    .map_err(|error| format!("Could not parse Range {}: {error}", go_quote(word)))?;
                comparisons.push(comparison);
            }
            alternatives.push(comparisons);
        }
        Ok(Range { alternatives })
    }

    pub fn contains(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|comparisons| comparisons.iter().all(|comparison| comparison.matches(version)))
    }
}

impl Comparison {
    pub fn matches(&self, version: &Version) -> bool {
        let ordering = version.compare(&self.version);
        match self.operator {
            Operator::Equal => ordering.is_eq(),
            Operator::NotEqual => ordering.is_ne(),
            Operator::Greater => ordering.is_gt(),
            Operator::GreaterOrEqual => ordering.is_ge(),
            Operator::Less => ordering.is_lt(),
            Operator::LessOrEqual => ordering.is_le(),
        }
    }
}

impl Operator {
    /// blang's `parseComparator`.
    pub fn parse(text: &str) -> Option<Operator> {
        match text {
            "" | "=" | "==" => Some(Operator::Equal),
            "!" | "!=" => Some(Operator::NotEqual),
            ">" => Some(Operator::Greater),
            ">=" => Some(Operator::GreaterOrEqual),
            "<" => Some(Operator::Less),
            "<=" => Some(Operator::LessOrEqual),
            _ => None,
        }
    }
}

fn build_comparison(operator_text: &str, version_text: &str) -> Result<Comparison, String> {
    let joined = format!("{operator_text}{version_text}");
    let Some(operator) = Operator::parse(operator_text) else {
        return Err(format!(
            "Could not parse comparator {} in {}",
            go_quote(operator_text),
            go_quote(&joined)
        ));
    };
    let version = Version::parse(version_text).map_err(|error| {
        format!(
            "Could not parse version {} in {}: {error}",
            go_quote(version_text),
            go_quote(&joined)
        )
    })?;
    Ok(Comparison { operator, version })
}

/// blang's `splitAndTrim`: split on single spaces, except after `>`, `<` or
/// `=` (the last non-space byte), then delete every space inside a word.
/// A word is only kept when it is longer than one byte.
fn split_and_trim(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut last: usize = 0;
    let mut last_char: u8 = 0;
    for (idx, &byte) in bytes.iter().enumerate() {
        if byte == b' ' && !matches!(last_char, b'>' | b'<' | b'=') {
            if last + 1 < idx {
                words.push(&text[last..idx]);
            }
            last = idx + 1;
        } else if byte != b' ' {
            last_char = byte;
        }
    }
    if last + 1 < bytes.len() {
        words.push(&text[last..]);
    }
    words.into_iter().map(|word| word.replace(' ', "")).collect()
}

/// blang's `splitORParts`: groups words between `||`.
fn split_or_parts(words: &[String]) -> Result<Vec<Vec<String>>, String> {
    let mut or_parts = Vec::new();
    let mut last = 0;
    for (idx, word) in words.iter().enumerate() {
        if word == "||" {
            if idx == 0 {
                return Err("First element in range is '||'".to_string());
            }
            or_parts.push(words[last..idx].to_vec());
            last = idx + 1;
        }
    }
    if last == words.len() {
        return Err("Last element in range is '||'".to_string());
    }
    or_parts.push(words[last..].to_vec());
    Ok(or_parts)
}

/// blang's `splitComparatorVersion`: the operator is everything before the
/// first Unicode decimal digit (spaces trimmed), the version the rest.
fn split_comparator_version(word: &str) -> Result<(&str, &str), String> {
    let Some(digit_idx) = word.find(is_go_digit) else {
        return Err(format!("Could not get version from string: {}", go_quote(word)));
    };
    Ok((word[..digit_idx].trim(), &word[digit_idx..]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wildcard {
    None,
    Major,
    Minor,
    Patch,
}

/// blang's `getWildcardType`: the last dot-separated part is `x`, and the
/// number of parts says which number it stands for.
fn wildcard_type(version_text: &str) -> Wildcard {
    let parts: Vec<&str> = version_text.split('.').collect();
    if parts.last() != Some(&"x") {
        return Wildcard::None;
    }
    match parts.len() {
        1 => Wildcard::Major,
        2 => Wildcard::Minor,
        3 => Wildcard::Patch,
        _ => Wildcard::None,
    }
}

/// blang's `createVersionFromWildcard`: the first `.x.x` becomes `.x`, the
/// first `.x` becomes `.0`, and a two-part result gets `.0` appended.
fn version_from_wildcard(version_text: &str) -> String {
    let flat = version_text.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
    if flat.split('.').count() == 2 { format!("{flat}.0") } else { flat }
}

/// blang's `incrementMajorVersion`/`incrementMinorVersion`: `Atoi` the
/// part, add one; an unparsable part gives the empty string.
fn increment_part(version_text: &str, part_idx: usize) -> String {
    let mut parts: Vec<String> = version_text.split('.').map(str::to_string).collect();
    let Some(number) = parts.get(part_idx).and_then(|part| atoi(part)) else {
        return String::new();
    };
    parts[part_idx] = number.wrapping_add(1).to_string();
    parts.join(".")
}

/// blang's `expandWildcardVersion`. Any word containing an `x` goes
/// through it, wildcard or not, which is why `>1.0.0-xyz` fails: `>` is
/// rewritten to `>=` plus an increment, and there is nothing to increment.
fn expand_wildcard_version(or_parts: &[Vec<String>]) -> Result<Vec<Vec<String>>, String> {
    let mut expanded = Vec::with_capacity(or_parts.len());
    for and_part in or_parts {
        let mut words = Vec::new();
        for word in and_part {
            if !word.contains('x') {
                words.push(word.clone());
                continue;
            }
            let (operator_text, version_text) = split_comparator_version(word)?;
            let wildcard = wildcard_type(version_text);
            let flat = version_from_wildcard(version_text);
            let (result_operator, increment) = match operator_text {
                ">" => (">=", true),
                ">=" => (">=", false),
                "<" => ("<", false),
                "<=" => ("<", true),
                "" | "=" | "==" => {
                    words.push(format!(">={flat}"));
                    ("<", true)
                }
                "!=" | "!" => {
                    words.push(format!("<{flat}"));
                    (">=", true)
                }
                // An unknown operator is dropped here (blang leaves the
                // result operator empty) and the flat version kept.
                _ => ("", false),
            };
            let result_version = if increment {
                match wildcard {
                    Wildcard::Patch => increment_part(&flat, 1),
                    Wildcard::Minor => increment_part(&flat, 0),
                    Wildcard::Major | Wildcard::None => String::new(),
                }
            } else {
                flat
            };
            words.push(format!("{result_operator}{result_version}"));
        }
        expanded.push(words);
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    // Expectations from blang v4 range_test.go TestSplitAndTrim.
    #[test]
    fn split_and_trim_table() {
        let cases: &[(&str, &[&str])] = &[
            ("1.2.3 1.2.3", &["1.2.3", "1.2.3"]),
            ("     1.2.3     1.2.3     ", &["1.2.3", "1.2.3"]),
            ("  >=   1.2.3   <=  1.2.3   ", &[">=1.2.3", "<=1.2.3"]),
            ("1.2.3 || >=1.2.3 <1.2.3", &["1.2.3", "||", ">=1.2.3", "<1.2.3"]),
            (
                "      1.2.3      ||     >=1.2.3     <1.2.3    ",
                &["1.2.3", "||", ">=1.2.3", "<1.2.3"],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(split_and_trim(input), strings(expected), "input {input:?}");
        }
        // One-byte words are dropped, as blang's `last < i-1` does.
        assert_eq!(split_and_trim("a bc d"), strings(&["bc"]));
    }

    // TestSplitComparatorVersion.
    #[test]
    fn split_comparator_version_table() {
        let cases = [
            (">1.2.3", ">", "1.2.3"),
            (">=1.2.3", ">=", "1.2.3"),
            ("<1.2.3", "<", "1.2.3"),
            ("<=1.2.3", "<=", "1.2.3"),
            ("1.2.3", "", "1.2.3"),
            ("=1.2.3", "=", "1.2.3"),
            ("==1.2.3", "==", "1.2.3"),
            ("!=1.2.3", "!=", "1.2.3"),
            ("!1.2.3", "!", "1.2.3"),
        ];
        for (input, operator, version) in cases {
            assert_eq!(split_comparator_version(input).unwrap(), (operator, version));
        }
        assert_eq!(
            split_comparator_version("error").unwrap_err(),
            r#"Could not get version from string: "error""#
        );
        // unicode.IsDigit: an Arabic-Indic digit starts the version.
        assert_eq!(split_comparator_version(">=\u{661}.0.0").unwrap(), (">=", "\u{661}.0.0"));
    }

    // TestParseComparator.
    #[test]
    fn parse_comparator_table() {
        let cases = [
            (">", Some(Operator::Greater)),
            (">=", Some(Operator::GreaterOrEqual)),
            ("<", Some(Operator::Less)),
            ("<=", Some(Operator::LessOrEqual)),
            ("", Some(Operator::Equal)),
            ("=", Some(Operator::Equal)),
            ("==", Some(Operator::Equal)),
            ("!=", Some(Operator::NotEqual)),
            ("!", Some(Operator::NotEqual)),
            ("-", None),
            ("<==", None),
            ("<<", None),
            (">>", None),
        ];
        for (input, expected) in cases {
            assert_eq!(Operator::parse(input), expected, "input {input:?}");
        }
    }

    // TestSplitORParts.
    #[test]
    fn split_or_parts_table() {
        assert_eq!(
            split_or_parts(&strings(&[">1.2.3", "||", "<1.2.3", "||", "=1.2.3"])).unwrap(),
            vec![strings(&[">1.2.3"]), strings(&["<1.2.3"]), strings(&["=1.2.3"])]
        );
        assert_eq!(
            split_or_parts(&strings(&[">1.2.3", "<1.2.3", "||", "=1.2.3"])).unwrap(),
            vec![strings(&[">1.2.3", "<1.2.3"]), strings(&["=1.2.3"])]
        );
        assert_eq!(
            split_or_parts(&strings(&[">1.2.3", "||"])).unwrap_err(),
            "Last element in range is '||'"
        );
        assert_eq!(
            split_or_parts(&strings(&["||", ">1.2.3"])).unwrap_err(),
            "First element in range is '||'"
        );
    }

    // TestGetWildcardType, TestCreateVersionFromWildcard,
    // TestIncrementMajorVersion, TestIncrementMinorVersion.
    #[test]
    fn wildcard_helpers_tables() {
        assert_eq!(wildcard_type("x"), Wildcard::Major);
        assert_eq!(wildcard_type("1.x"), Wildcard::Minor);
        assert_eq!(wildcard_type("1.2.x"), Wildcard::Patch);
        assert_eq!(wildcard_type("fo.o.b.ar"), Wildcard::None);
        assert_eq!(version_from_wildcard("1.2.x"), "1.2.0");
        assert_eq!(version_from_wildcard("1.x"), "1.0.0");
        assert_eq!(increment_part("1.2.3", 0), "2.2.3");
        assert_eq!(increment_part("1.2", 0), "2.2");
        assert_eq!(increment_part("foo.bar", 0), "");
        assert_eq!(increment_part("1.2.3", 1), "1.3.3");
        assert_eq!(increment_part("1.2", 1), "1.3");
        assert_eq!(increment_part("foo.bar", 1), "");
    }

    // TestExpandWildcardVersion.
    #[test]
    fn expand_wildcard_version_table() {
        let cases: &[(&str, &[&str])] = &[
            (">=1.2.x", &[">=1.2.0"]),
            ("<=1.2.x", &["<1.3.0"]),
            (">1.2.x", &[">=1.3.0"]),
            ("<1.2.x", &["<1.2.0"]),
            ("!=1.2.x", &["<1.2.0", ">=1.3.0"]),
            (">=1.x", &[">=1.0.0"]),
            ("<=1.x", &["<2.0.0"]),
            (">1.x", &[">=2.0.0"]),
            ("<1.x", &["<1.0.0"]),
            ("!=1.x", &["<1.0.0", ">=2.0.0"]),
            ("1.2.x", &[">=1.2.0", "<1.3.0"]),
            ("1.x", &[">=1.0.0", "<2.0.0"]),
        ];
        for (input, expected) in cases {
            let expanded = expand_wildcard_version(&[strings(&[input])]).unwrap();
            assert_eq!(expanded, vec![strings(expected)], "input {input:?}");
        }
        assert_eq!(
            expand_wildcard_version(&[strings(&["foox"])]).unwrap_err(),
            r#"Could not get version from string: "foox""#
        );
    }
}
