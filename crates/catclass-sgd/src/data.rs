//! Training rows as the solvers see them: a dense row-major block of `f32` or `f64` values.

use alloc::vec::Vec;

/// A feature value type the solvers read: `f32` (CNN features, half the memory traffic) or
/// `f64`. Every computation is done in `f64`; an `f32` value converts exactly.
pub trait Element: Copy + Send + Sync + PartialEq + core::fmt::Debug + 'static {
    /// The value as `f64` (exact for both `f32` and `f64`).
    fn to_f64(self) -> f64;
    /// One, the value appended as the bias feature.
    const ONE: Self;
}

impl Element for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    const ONE: Self = 1.0;
}

impl Element for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    const ONE: Self = 1.0;
}

/// Feature values of many rows, row-major: `f32` (CNN features, half the memory read) or
/// `f64`. Every computation is made in `f64`; an `f32` value converts exactly, so the choice
/// never changes a result.
///
/// ```
/// use catclass_sgd::Values;
/// let v: Values = vec![1.0f32, 2.0, 3.0, 4.0].into();
/// assert_eq!((v.len(), v.get(1)), (4, 2.0));
/// assert_eq!(v.select_rows(&[1], 2), Values::F32(vec![3.0, 4.0]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Single precision.
    F32(Vec<f32>),
    /// Double precision.
    F64(Vec<f64>),
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` as `f64`.
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Values::F32(v) => f64::from(v[i]),
            Values::F64(v) => v[i],
        }
    }

    /// Rows `rows` (of `dim` values each), copied in that order into values of the same type.
    pub fn select_rows(&self, rows: &[usize], dim: usize) -> Values {
        fn pick<T: Copy>(v: &[T], rows: &[usize], dim: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(rows.len() * dim);
            for &r in rows {
                out.extend_from_slice(&v[r * dim..(r + 1) * dim]);
            }
            out
        }
        match self {
            Values::F32(v) => Values::F32(pick(v, rows, dim)),
            Values::F64(v) => Values::F64(pick(v, rows, dim)),
        }
    }
}

impl From<Vec<f32>> for Values {
    fn from(v: Vec<f32>) -> Self {
        Values::F32(v)
    }
}

impl From<Vec<f64>> for Values {
    fn from(v: Vec<f64>) -> Self {
        Values::F64(v)
    }
}

/// Problems with the shape of the training data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The feature buffer is not a whole number of rows.
    #[error("feature buffer of {len} values is not a multiple of the dimension {dim}")]
    Ragged {
        /// Number of values.
        len: usize,
        /// Row length.
        dim: usize,
    },
    /// Feature and label counts differ.
    #[error("{rows} feature rows but {labels} labels")]
    LabelCount {
        /// Rows.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// The rows held do not lie inside the whole data set.
    #[error("rows {first}..{end} lie outside the {total} rows of the data set")]
    OutOfRange {
        /// First global row held.
        first: usize,
        /// One past the last global row held.
        end: usize,
        /// Total number of rows.
        total: usize,
    },
    /// A block the reducer asked for is not held by this process.
    #[error("block {block} (rows {first}..{end}) is not held here (rows {held_first}..{held_end})")]
    BlockNotHeld {
        /// Block index.
        block: usize,
        /// First row of the block.
        first: usize,
        /// One past its last row.
        end: usize,
        /// First row held.
        held_first: usize,
        /// One past the last row held.
        held_end: usize,
    },
    /// A row dimension of zero.
    #[error("feature dimension is zero")]
    ZeroDimension,
}

/// A view of training rows: row-major features and their labels.
///
/// A process may hold only part of the rows (a shard): `first_row` is the global index of the
/// first row held and `total_rows` the size of the whole set, so that sampling and block
/// boundaries are those of the whole set.
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'a, T: Element> {
    features: &'a [T],
    labels: &'a [f64],
    dim: usize,
    first_row: usize,
    total_rows: usize,
}

impl<'a, T: Element> Dataset<'a, T> {
    /// All rows of a data set: `features` is `labels.len()` rows of `dim` values.
    pub fn new(features: &'a [T], labels: &'a [f64], dim: usize) -> Result<Self, DatasetError> {
        Self::shard(features, labels, dim, 0, labels.len())
    }

    /// Rows `first_row .. first_row + labels.len()` of a data set of `total_rows` rows.
    pub fn shard(
        features: &'a [T],
        labels: &'a [f64],
        dim: usize,
        first_row: usize,
        total_rows: usize,
    ) -> Result<Self, DatasetError> {
        if dim == 0 {
            return Err(DatasetError::ZeroDimension);
        }
        if !features.len().is_multiple_of(dim) {
            return Err(DatasetError::Ragged {
                len: features.len(),
                dim,
            });
        }
        let rows = features.len() / dim;
        if rows != labels.len() {
            return Err(DatasetError::LabelCount {
                rows,
                labels: labels.len(),
            });
        }
        if first_row + rows > total_rows {
            return Err(DatasetError::OutOfRange {
                first: first_row,
                end: first_row + rows,
                total: total_rows,
            });
        }
        Ok(Dataset {
            features,
            labels,
            dim,
            first_row,
            total_rows,
        })
    }

    /// Row length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows in the whole data set.
    pub fn total_rows(&self) -> usize {
        self.total_rows
    }

    /// Global index of the first row held.
    pub fn first_row(&self) -> usize {
        self.first_row
    }

    /// Number of rows held here.
    pub fn held_rows(&self) -> usize {
        self.labels.len()
    }

    /// Labels of the rows held.
    pub fn labels(&self) -> &'a [f64] {
        self.labels
    }

    /// Features of the rows held, row-major.
    pub fn features(&self) -> &'a [T] {
        self.features
    }

    /// Row `global` (a global index that must be held).
    #[inline]
    pub fn row(&self, global: usize) -> &'a [T] {
        let local = global - self.first_row;
        &self.features[local * self.dim..(local + 1) * self.dim]
    }

    /// Label of row `global`.
    #[inline]
    pub fn label(&self, global: usize) -> f64 {
        self.labels[global - self.first_row]
    }

    /// Whether global rows `range` are all held here.
    pub fn holds(&self, range: core::ops::Range<usize>) -> bool {
        range.start >= self.first_row && range.end <= self.first_row + self.held_rows()
    }
}

/// Copies `features` (rows of `dim` values) with a trailing 1.0 on every row, as MLlib's
/// `appendBias` does when an intercept is asked for.
pub fn append_bias<T: Element>(features: &[T], dim: usize) -> Vec<T> {
    let rows = features.len().checked_div(dim).unwrap_or(0);
    let mut out = Vec::with_capacity(rows * (dim + 1));
    for row in features.chunks_exact(dim) {
        out.extend_from_slice(row);
        out.push(T::ONE);
    }
    out
}

/// Rows whose label is neither 0.0 nor 1.0 (MLlib's `binaryLabelValidator`):
/// `(count, first row, its label)`, or `None` when every label is valid.
pub fn invalid_labels(labels: &[f64]) -> Option<(usize, usize, f64)> {
    let mut bad = labels
        .iter()
        .enumerate()
        .filter(|(_, y)| !(**y == 0.0 || **y == 1.0));
    let (first_row, first_value) = bad.next()?;
    Some((1 + bad.count(), first_row, *first_value))
}
