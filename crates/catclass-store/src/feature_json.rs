//! The seed's feature file: one bare JSON array of numbers (`json.dumps(list_of_floats)`).
//!
//! A strict, fast parser: standard JSON numbers only (Python's `NaN`, `Infinity` and
//! `-Infinity`, which its `json` module writes, are refused by name), exact decimal to binary
//! conversion (correctly rounded, like `float()` in Python), positions in errors.

use std::fmt::Write as _;

/// The largest feature file read (64 MiB: about six million values; a VGG16 `fc2` file is
/// about 50 KB), checked before and while reading.
pub const MAX_FEATURE_FILE_BYTES: u64 = 64 << 20;

/// Why a feature file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureFileError {
    /// The file is empty or holds only whitespace.
    #[error("empty file")]
    Empty,
    /// The first non-blank character is not `[`.
    #[error("expected a JSON array '[' at byte {0}")]
    NotAnArray(usize),
    /// The array ends early.
    #[error("truncated JSON: the array is not closed (file ends at byte {0})")]
    Truncated(usize),
    /// Something else than a number where a number must be.
    #[error("not a number at byte {pos}: {found}")]
    NotANumber {
        /// Byte offset.
        pos: usize,
        /// What was found (shortened).
        found: String,
    },
    /// `NaN`, `Infinity` or `-Infinity` (Python's json writes them; they are not JSON).
    #[error("non-finite value {token} at byte {pos} (element {index})")]
    NonFinite {
        /// Byte offset.
        pos: usize,
        /// Element index.
        index: usize,
        /// The token.
        token: String,
    },
    /// A number too large for a double.
    #[error("number out of range at byte {pos} (element {index})")]
    OutOfRange {
        /// Byte offset.
        pos: usize,
        /// Element index.
        index: usize,
    },
    /// A character other than `,` or `]` after an element.
    #[error("expected ',' or ']' at byte {pos}, found {found:?}")]
    Separator {
        /// Byte offset.
        pos: usize,
        /// The character found.
        found: char,
    },
    /// Bytes after the closing `]`.
    #[error("unexpected data after the array at byte {0}")]
    Trailing(usize),
    /// The array has no element.
    #[error("the array is empty")]
    NoValues,
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// End of a JSON number token starting at `i` (strict grammar), or `None` if there is none.
fn json_number_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !matches!(b.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    Some(i)
}

fn describe(b: &[u8], pos: usize) -> String {
    let end = (pos + 16).min(b.len());
    let s = String::from_utf8_lossy(&b[pos..end]);
    let tok: String = s
        .chars()
        .take_while(|c| !matches!(c, ',' | ']' | ' ' | '\n'))
        .collect();
    if tok.is_empty() { s.into_owned() } else { tok }
}

/// Parses one feature file, pushing the values into `out` (cleared first).
pub fn parse_into(bytes: &[u8], out: &mut Vec<f64>) -> Result<(), FeatureFileError> {
    out.clear();
    let b = bytes;
    let mut i = skip_ws(b, 0);
    if i == b.len() {
        return Err(FeatureFileError::Empty);
    }
    if b[i] != b'[' {
        return Err(FeatureFileError::NotAnArray(i));
    }
    i = skip_ws(b, i + 1);
    if i == b.len() {
        return Err(FeatureFileError::Truncated(i));
    }
    if b[i] == b']' {
        return Err(FeatureFileError::NoValues);
    }
    loop {
        i = skip_ws(b, i);
        if i == b.len() {
            return Err(FeatureFileError::Truncated(i));
        }
        let Some(end) = json_number_end(b, i) else {
            let token = describe(b, i);
            let bare = token.trim_start_matches('-');
            if bare.starts_with("NaN") || bare.starts_with("Infinity") {
                return Err(FeatureFileError::NonFinite {
                    pos: i,
                    index: out.len(),
                    token,
                });
            }
            return Err(FeatureFileError::NotANumber {
                pos: i,
                found: token,
            });
        };
        let v: f64 = fast_float2::parse(&b[i..end]).map_err(|_| FeatureFileError::NotANumber {
            pos: i,
            found: describe(b, i),
        })?;
        if !v.is_finite() {
            return Err(FeatureFileError::OutOfRange {
                pos: i,
                index: out.len(),
            });
        }
        out.push(v);
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => {
                i = skip_ws(b, i + 1);
                if i != b.len() {
                    return Err(FeatureFileError::Trailing(i));
                }
                return Ok(());
            }
            Some(&c) => {
                let found = String::from_utf8_lossy(&b[i..(i + 4).min(b.len())])
                    .chars()
                    .next()
                    .unwrap_or(c as char);
                return Err(FeatureFileError::Separator { pos: i, found });
            }
            None => return Err(FeatureFileError::Truncated(i)),
        }
    }
}

/// Parses one feature file into a new vector.
pub fn parse(bytes: &[u8]) -> Result<Vec<f64>, FeatureFileError> {
    let mut out = Vec::new();
    parse_into(bytes, &mut out)?;
    Ok(out)
}

/// Writes values as a bare JSON array, each as the shortest decimal that reads back to the same
/// `f64` (an `f32` value widens exactly, so it reads back exactly too).
pub fn to_json<T: Copy + Into<f64>>(values: &[T]) -> String {
    let mut s = String::with_capacity(values.len() * 12 + 2);
    s.push('[');
    for (k, v) in values.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        let x: f64 = (*v).into();
        let _ = write!(s, "{x:?}");
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_python_json_dumps_output() {
        let v = parse(b"[0.0, 1.2345678806304932, 3e-05, 12.5, -0.25]\n").unwrap();
        assert_eq!(v, vec![0.0, 1.2345678806304932, 3e-05, 12.5, -0.25]);
    }

    #[test]
    fn refuses_python_non_finite_tokens_by_name() {
        for (src, tok) in [
            ("[1.0, NaN]", "NaN"),
            ("[Infinity]", "Infinity"),
            ("[2, -Infinity]", "-Infinity"),
        ] {
            match parse(src.as_bytes()) {
                Err(FeatureFileError::NonFinite { token, .. }) => assert_eq!(token, tok),
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_malformed_input() {
        assert_eq!(parse(b""), Err(FeatureFileError::Empty));
        assert_eq!(parse(b"  \n"), Err(FeatureFileError::Empty));
        assert_eq!(parse(b"{\"a\": 1}"), Err(FeatureFileError::NotAnArray(0)));
        assert!(matches!(
            parse(b"[1.0, 2.0"),
            Err(FeatureFileError::Truncated(_))
        ));
        assert!(matches!(
            parse(b"[1.0, 2."),
            Err(FeatureFileError::NotANumber { .. })
        ));
        assert!(matches!(
            parse(b"[1.0, \"x\"]"),
            Err(FeatureFileError::NotANumber { .. })
        ));
        assert!(matches!(
            parse(b"[1.0 2.0]"),
            Err(FeatureFileError::Separator { .. })
        ));
        assert!(matches!(
            parse(b"[1.0] x"),
            Err(FeatureFileError::Trailing(_))
        ));
        assert!(matches!(
            parse(b"[01]"),
            Err(FeatureFileError::Separator { .. })
        ));
        assert!(matches!(
            parse(b"[1e999]"),
            Err(FeatureFileError::OutOfRange { .. })
        ));
        assert_eq!(parse(b"[]"), Err(FeatureFileError::NoValues));
    }

    #[test]
    fn writes_what_it_reads_exactly() {
        let vals = [0.1f64, 1.0 / 3.0, 1e-300, 5e-324, 123456789.0, 0.0];
        assert_eq!(parse(to_json(&vals).as_bytes()).unwrap(), vals);
        let f: [f32; 3] = [0.1, 7.25, 1e-20];
        let back = parse(to_json(&f).as_bytes()).unwrap();
        assert!(back.iter().zip(f).all(|(a, b)| *a == b as f64));
    }
}
