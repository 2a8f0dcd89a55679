//! Manifests decoded once per content. Operators ship the same CRDs,
//! byte for byte, in bundle after bundle: in community-operators-prod 42%
//! of the manifest bytes (890 of 2,130 MB) repeat a file seen before, and
//! decoding YAML is most of what loading a bundle costs.
//!
//! A decode depends only on the bytes, so its outcome is kept by their
//! sha256, with the compact JSON and base64 that rendering makes of it.
//! Only what repeats is kept: a digest is noted the first time, and the
//! outcome kept the second, so a tree of unique files (a synthetic one, a
//! fresh project) holds no decoded trees at all. What is kept is bounded
//! by [`KEPT_SOURCE_BYTES`]; past it, everything kept is dropped (bundles
//! come package by package, so what repeats repeats soon).
//!
//! The file path is not part of an outcome: a bundle's warnings and
//! objects name its own file.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use crate::encoding::json::Value;

use super::parsed::CsvFieldLines;
use super::read::Sha256Digest;

/// Source bytes whose decoded outcomes are kept at most. A decoded tree
/// takes a few times its source in memory, rendered text about 1.5 times:
/// 4 MiB costs ~13 MiB of peak RSS on a 10,000-bundle synth tree and cuts
/// community-operators-prod's CPU by 13% (16 MiB: 22%, but +75 MiB, which
/// the 10,000-bundle tree's memory bound of 25% of its input cannot take).
const KEPT_SOURCE_BYTES: usize = 4 << 20;
/// Digests noted at most (32 bytes each) before the notes start over.
const NOTED_DIGESTS: usize = 1 << 20;

/// What decoding a manifest's bytes gave.
#[derive(Debug)]
pub(crate) enum Decoded {
    Object(DecodedObject),
    /// opm skips the file with a warning: its message and line.
    Skipped {
        message: String,
        line: Option<usize>,
    },
}

/// A manifest decoded into an unstructured object with a kind.
#[derive(Debug)]
pub(crate) struct DecodedObject {
    pub line: usize,
    pub value: Arc<Value>,
    pub field_lines: CsvFieldLines,
    /// The file held more than one document (opm reads the first).
    pub extra_documents: bool,
    /// The object's `olm.bundle.object` value, made once when first needed.
    pub rendered: Arc<OnceLock<String>>,
}

#[derive(Default)]
struct Memo {
    noted: HashSet<Sha256Digest>,
    kept: HashMap<Sha256Digest, Arc<Decoded>>,
    kept_bytes: usize,
}

fn memo() -> &'static Mutex<Memo> {
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    MEMO.get_or_init(Mutex::default)
}

/// The outcome of decoding `bytes` (whose sha256 is `digest`, when known)
/// with `decode`, from the memo when these bytes were decoded before.
pub(crate) fn decoded(digest: Option<&Sha256Digest>, bytes: &[u8], decode: impl FnOnce() -> Decoded) -> Arc<Decoded> {
    let Some(digest) = digest else {
        return Arc::new(decode());
    };
    if let Some(kept) = lock().kept.get(digest) {
        return Arc::clone(kept);
    }
    // Decoded outside the lock: other bundles load meanwhile.
    let outcome = Arc::new(decode());
    let mut memo = lock();
    if memo.noted.contains(digest) {
        if memo.kept_bytes + bytes.len() > KEPT_SOURCE_BYTES {
            memo.kept.clear();
            memo.kept_bytes = 0;
        }
        if bytes.len() <= KEPT_SOURCE_BYTES {
            memo.kept_bytes += bytes.len();
            memo.kept.insert(*digest, Arc::clone(&outcome));
        }
    } else {
        if memo.noted.len() >= NOTED_DIGESTS {
            memo.noted.clear();
        }
        memo.noted.insert(*digest);
    }
    outcome
}

/// The memo's lock; a panic elsewhere while holding it leaves nothing
/// half-done that matters (every entry is whole), so poison is ignored.
fn lock() -> std::sync::MutexGuard<'static, Memo> {
    memo().lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Decoded {
        Decoded::Object(DecodedObject {
            line: 1,
            value: Arc::new(Value::String(text.to_string())),
            field_lines: CsvFieldLines::default(),
            extra_documents: false,
            rendered: Arc::default(),
        })
    }

    #[test]
    fn an_outcome_is_kept_from_the_second_decode_of_the_same_bytes() {
        // Bytes no other test uses, so the shared memo has not seen them.
        let bytes = b"kind: MemoTestOnly\nmetadata: {name: first-seen-twice}\n";
        let digest = Sha256Digest::of(bytes);
        let mut decodes = 0;
        let mut decode = || {
            decodes += 1;
            object("x")
        };
        let first = decoded(Some(&digest), bytes, &mut decode);
        let second = decoded(Some(&digest), bytes, &mut decode);
        let third = decoded(Some(&digest), bytes, &mut decode);
        assert_eq!(decodes, 2, "decoded the first two times only");
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&second, &third));
        // Without a digest nothing is looked up or kept.
        let mut plain_decodes = 0;
        for _ in 0..3 {
            decoded(None, bytes, || {
                plain_decodes += 1;
                object("y")
            });
        }
        assert_eq!(plain_decodes, 3);
    }
}
