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

/// Exact powers of ten as `f64` (10^0 ..= 10^22 are exactly representable).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Scans a run of ASCII digits from `i`, folding up to 19 significant digits into `m`;
/// returns the end of the run and how many digits it had.
#[inline(always)]
fn digits(b: &[u8], mut i: usize, m: &mut u64, kept: &mut u32) -> (usize, usize) {
    let start = i;
    // Eight digits at a time while they last (SWAR: one load, one check, three multiplies).
    while *kept + 8 <= 19 {
        let Some(chunk) = b.get(i..i + 8) else { break };
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let low = word.wrapping_sub(0x3030_3030_3030_3030);
        let high = word.wrapping_add(0x4646_4646_4646_4646);
        if (low | high) & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        // low holds eight values 0..=9, the first digit in the lowest byte.
        let pairs = (low.wrapping_mul(10) + (low >> 8)) & 0x00ff_00ff_00ff_00ff;
        let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
        let eight = quads.wrapping_mul(10000) + (quads >> 32);
        *m = *m * 100_000_000 + (eight & 0xffff_ffff);
        *kept += 8;
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if *kept < 19 {
            *m = *m * 10 + u64::from(d);
            *kept += 1;
        }
        i += 1;
    }
    (i, i - start)
}

/// `m / 10^e` correctly rounded (to nearest, ties to even), for `1 <= m < 2^64` and
/// `1 <= e <= 22`: one 128-bit division gives at least 54 quotient bits, the remainder the
/// sticky bit. (Python writes most `float32` values with 17 digits, past Clinger's fast path.)
#[inline]
fn divided_by_power_of_ten(m: u64, e: u32) -> f64 {
    let d = 10u128.pow(e);
    let shift = u128::from(m).leading_zeros();
    let n = u128::from(m) << shift;
    let (q, r) = (n / d, n % d);
    // n >= 2^127 and d < 2^74: q has 54 to 128 bits.
    let bits = 128 - q.leading_zeros();
    let dropped = bits - 53;
    let mut mantissa = (q >> dropped) as u64;
    let half = 1u128 << (dropped - 1);
    let low = q & ((half << 1) - 1);
    if low > half || (low == half && (r != 0 || mantissa & 1 == 1)) {
        mantissa += 1;
    }
    // m / 10^e >= 1e-22: a normal double, so the power of two is exact and so is the product.
    let exponent = dropped as i32 - shift as i32;
    mantissa as f64 * f64::from_bits(((1023 + exponent) as u64) << 52)
}

/// One JSON number at `start` (strict grammar): its value and end, `Ok(None)` if there is no
/// number there. Correctly rounded: Clinger's exact fast path when the digits and the power of
/// ten are both exact doubles (most of Python's output for `float32` values), otherwise the
/// token goes to `fast_float2`.
#[inline(always)]
fn number(b: &[u8], start: usize) -> Option<(f64, usize)> {
    let mut i = start;
    let negative = b.get(i) == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut m = 0u64;
    let mut kept = 0u32;
    // Digits past the 19th: the value is then left to the full algorithm.
    let mut exact = true;
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            let (end, n) = digits(b, i, &mut m, &mut kept);
            exact &= n == kept as usize;
            i = end;
        }
        _ => return None,
    }
    let mut scale: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let before = kept;
        let (end, n) = digits(b, i, &mut m, &mut kept);
        if n == 0 {
            return None;
        }
        // Leading zeros of a fraction (`0.000123`) are not significant digits, but folding
        // them into `m` is harmless: they only add to the count kept.
        exact &= n == (kept - before) as usize;
        scale = -((kept - before) as i64);
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let mut exp_negative = false;
        if let Some(&c @ (b'+' | b'-')) = b.get(i) {
            exp_negative = c == b'-';
            i += 1;
        }
        let mut e: i64 = 0;
        let begin = i;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            e = (e * 10 + i64::from(d)).min(1 << 40);
            i += 1;
        }
        if i == begin {
            return None;
        }
        scale += if exp_negative { -e } else { e };
    }
    let value = if m == 0 && exact {
        0.0
    } else if exact && m <= 1 << 53 && (-22..=22).contains(&scale) {
        let m = m as f64;
        if scale >= 0 {
            m * POW10[scale as usize]
        } else {
            m / POW10[(-scale) as usize]
        }
    } else if exact && (-22..0).contains(&scale) {
        divided_by_power_of_ten(m, (-scale) as u32)
    } else {
        fast_float2::parse(&b[start + usize::from(negative)..i]).ok()?
    };
    Some((if negative { -value } else { value }, i))
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
        let Some((v, end)) = number(b, i) else {
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

    /// What serde_json (correctly rounded with `float_roundtrip`, strict grammar) makes of a
    /// token alone: the reference for [`number`].
    fn reference(token: &str) -> Option<f64> {
        serde_json::from_str::<f64>(token).ok()
    }

    fn ours(token: &str) -> Option<f64> {
        match parse(format!("[{token}]").as_bytes()) {
            Ok(v) => Some(v[0]),
            Err(_) => None,
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        for token in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "12345678",
            "123456789",
            "1234567890123456789",
            "12345678901234567890",
            "9007199254740993",
            "9007199254740992",
            "0.1",
            "0.30000000000000004",
            "1.2345678806304932",
            "2.908693790435791",
            "3e-05",
            "3E+05",
            "1e22",
            "1e23",
            "8.98846567431158e307",
            "2.2250738585072011e-308",
            "4.9e-324",
            "1e-400",
            "5e-324",
            "0.000000000000000000000000000001234567890123456789",
            "123456789012345678901234567890e-10",
            "00",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "1e+",
            "0x10",
            "1_0",
            "1.5e3.2",
            "12345678.12345678",
            "0.12345678",
            "99999999999999999999",
        ] {
            let want = reference(token);
            let got = ours(token);
            assert_eq!(
                got.map(f64::to_bits),
                want.filter(|v| v.is_finite()).map(f64::to_bits),
                "{token}: ours {got:?}, serde_json {want:?}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn any_number_token_reads_as_serde_json_reads_it(
            token in "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?"
        ) {
            let want = reference(&token).filter(|v| v.is_finite());
            proptest::prop_assert_eq!(ours(&token).map(f64::to_bits), want.map(f64::to_bits),
                                      "{}", token);
        }

        #[test]
        fn long_fractions_read_as_serde_json_reads_them(
            int in 0u64..100, frac in proptest::prelude::any::<u64>(), width in 1usize..=22,
            negative in proptest::prelude::any::<bool>()
        ) {
            let frac = format!("{frac:0>22}");
            let token = format!("{}{int}.{}", if negative { "-" } else { "" }, &frac[..width]);
            let want = reference(&token);
            proptest::prop_assert_eq!(ours(&token).map(f64::to_bits), want.map(f64::to_bits),
                                      "{}", token);
        }

        #[test]
        fn any_short_string_is_read_as_serde_json_reads_it(token in "[-+0-9.eE]{1,12}") {
            let want = reference(&token).filter(|v| v.is_finite());
            proptest::prop_assert_eq!(ours(&token).map(f64::to_bits), want.map(f64::to_bits),
                                      "{}", token);
        }

        #[test]
        fn every_f32_and_f64_comes_back(bits in proptest::prelude::any::<u64>(),
                                        small in proptest::prelude::any::<u32>()) {
            for x in [f64::from_bits(bits), f64::from(f32::from_bits(small))] {
                if x.is_finite() {
                    let back = parse(to_json(&[x]).as_bytes()).unwrap();
                    proptest::prop_assert_eq!(back[0].to_bits(), x.to_bits());
                }
            }
        }
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
