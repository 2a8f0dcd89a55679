//! Mapping key order of go-yaml v2.4.4's encoder (`sorter.go` `keyList.Less`)
//! for string keys, the only kind JSON has.
//!
//! It is not bytewise: at the first differing character, letters sort after
//! everything else, and runs of digits compare by numeric value, so `a2`
//! comes before `a10` and `_x` before `ax`.

use std::cmp::Ordering;

use crate::go::unicode::{is_go_digit, is_go_letter};

/// Sorts `(key, value)` pairs the way go-yaml marshals a Go map.
pub(super) fn sort_entries<T>(entries: &mut [(String, T)]) {
    entries.sort_by(|(left, _), (right, _)| compare_keys(left, right));
}

fn compare_keys(left: &str, right: &str) -> Ordering {
    if key_less(left, right) {
        Ordering::Less
    } else if key_less(right, left) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// `keyList.Less` for two strings, over Unicode code points.
fn key_less(left: &str, right: &str) -> bool {
    let left: Vec<char> = left.chars().collect();
    let right: Vec<char> = right.chars().collect();
    for idx in 0..left.len().min(right.len()) {
        let (left_char, right_char) = (left[idx], right[idx]);
        if left_char == right_char {
            continue;
        }
        let left_letter = is_go_letter(left_char);
        let right_letter = is_go_letter(right_char);
        if left_letter && right_letter {
            return left_char < right_char;
        }
        if left_letter || right_letter {
            return right_letter;
        }
        // Two non-letters: compare the digit runs starting here. A run
        // starting with `0` in the middle of a number (a non-zero digit
        // before it) counts as a non-zero number.
        let (mut left_number, mut right_number) = (0i64, 0i64);
        if left_char == '0' || right_char == '0' {
            let preceding_nonzero = left[..idx].iter().rev().take_while(|ch| is_go_digit(**ch)).any(|ch| *ch != '0');
            if preceding_nonzero {
                left_number = 1;
                right_number = 1;
            }
        }
        let (left_number, left_end) = digit_run(&left, idx, left_number);
        let (right_number, right_end) = digit_run(&right, idx, right_number);
        if left_number != right_number {
            return left_number < right_number;
        }
        if left_end != right_end {
            return left_end < right_end;
        }
        return left_char < right_char;
    }
    left.len() < right.len()
}

/// Accumulates the digits from `start` the way Go does (`n*10 + (r - '0')`,
/// wrapping, even for non-ASCII digits); returns the number and where the
/// run ends.
fn digit_run(chars: &[char], start: usize, mut number: i64) -> (i64, usize) {
    let mut end = start;
    while let Some(&ch) = chars.get(end).filter(|ch| is_go_digit(**ch)) {
        let digit = i64::from(ch as u32) - i64::from(u32::from('0'));
        number = number.wrapping_mul(10).wrapping_add(digit);
        end += 1;
    }
    (number, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut entries: Vec<(String, ())> = keys.iter().map(|key| (key.to_string(), ())).collect();
        sort_entries(&mut entries);
        entries.into_iter().map(|(key, ())| key).collect()
    }

    #[test]
    fn declcfg_keys_sort_alphabetically() {
        assert_eq!(
            sorted(&["schema", "name", "package", "image", "properties", "relatedImages"]),
            ["image", "name", "package", "properties", "relatedImages", "schema"]
        );
    }

    #[test]
    fn uppercase_sorts_before_lowercase_and_non_letters_first() {
        assert_eq!(sorted(&["b", "B", "a", "A"]), ["A", "B", "a", "b"]);
        assert_eq!(sorted(&["ab", "a_", "a-", "a.", "a"]), ["a", "a-", "a.", "a_", "ab"]);
        // A digit run outweighs no digits at all: `~` (0) sorts before `1` (1).
        assert_eq!(sorted(&["~", "x", "1", " "]), [" ", "~", "1", "x"]);
    }

    #[test]
    fn digit_runs_compare_numerically() {
        assert_eq!(sorted(&["a10", "a9", "a2", "a1"]), ["a1", "a2", "a9", "a10"]);
        assert_eq!(sorted(&["v1.10", "v1.9", "v1.1"]), ["v1.1", "v1.9", "v1.10"]);
        assert_eq!(sorted(&["01", "1", "001"]), ["1", "01", "001"]);
        assert_eq!(sorted(&["x10", "x09", "x1"]), ["x1", "x09", "x10"]);
    }
}
