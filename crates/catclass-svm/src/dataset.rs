//! Labelled rows in memory: what the solvers fit and the models are evaluated on.

use crate::SvmError;
use crate::split::stratified_split;
use catclass_sgd::{Element, Values};
use std::collections::BTreeSet;

/// An element type rows can be given in: `f32` or `f64`.
pub trait Value: Element {
    /// The values as a [`Values`] matrix (no conversion: the type is kept).
    fn into_values(v: Vec<Self>) -> Values;
}

impl Value for f32 {
    fn into_values(v: Vec<Self>) -> Values {
        Values::F32(v)
    }
}

impl Value for f64 {
    fn into_values(v: Vec<Self>) -> Values {
        Values::F64(v)
    }
}

/// One row, borrowed, in the type it is held in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row<'a> {
    /// Single precision.
    F32(&'a [f32]),
    /// Double precision.
    F64(&'a [f64]),
}

impl Row<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Row::F32(r) => r.len(),
            Row::F64(r) => r.len(),
        }
    }

    /// Whether the row is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a row's label can be given as: a class name, or a class id (written in decimal).
///
/// ```
/// use catclass_svm::ClassLabel;
/// assert_eq!("cat".class_name(), "cat");
/// assert_eq!(7u32.class_name(), "7");
/// ```
pub trait ClassLabel {
    /// The class name.
    fn class_name(&self) -> String;
}

impl ClassLabel for str {
    fn class_name(&self) -> String {
        self.to_string()
    }
}

impl ClassLabel for String {
    fn class_name(&self) -> String {
        self.clone()
    }
}

impl<L: ClassLabel + ?Sized> ClassLabel for &L {
    fn class_name(&self) -> String {
        (**self).class_name()
    }
}

macro_rules! id_labels {
    ($($t:ty),*) => {$(
        impl ClassLabel for $t {
            fn class_name(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
id_labels!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// Labelled rows held in memory: values (row-major, `f32` or `f64`), the class of each row,
/// and the sorted list of classes (a row's class is an index into it).
///
/// Rows are kept in the order given; [`Dataset::split_stratified`] is the documented seeded
/// split. A process of a cluster may hold only part of the rows ([`Dataset::part_of`]): the
/// solvers then use the block boundaries and sampling of the whole set, so every process
/// computes its share of the same model.
///
/// ```
/// use catclass_svm::Dataset;
/// let x = ndarray::array![[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.8]];
/// let data = Dataset::from_rows(x.view(), ["cat", "cat", "dog", "dog"])?;
/// assert_eq!((data.rows(), data.dim()), (4, 2));
/// assert_eq!(data.classes(), ["cat", "dog"]);
/// assert_eq!(data.class_of(2), "dog");
/// # Ok::<(), catclass_svm::SvmError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    values: Values,
    dim: usize,
    classes: Vec<String>,
    targets: Vec<usize>,
    first_row: usize,
    total_rows: usize,
}

impl Dataset {
    /// Rows of an `ndarray` matrix (any layout) with one label per row.
    ///
    /// Only the view is taken, so any `ndarray` 0.17 array works; with another `ndarray`
    /// version, pass its slice to [`Dataset::from_slice`].
    pub fn from_rows<T: Value, L: ClassLabel>(
        rows: ndarray::ArrayView2<'_, T>,
        labels: impl IntoIterator<Item = L>,
    ) -> Result<Self, SvmError> {
        let dim = rows.ncols();
        let values: Vec<T> = match rows.as_slice() {
            Some(s) => s.to_vec(),
            None => rows.iter().copied().collect(),
        };
        Self::from_values(T::into_values(values), dim, labels)
    }

    /// Rows of `dim` values each, row-major in `values`, with one label per row.
    pub fn from_slice<T: Value, L: ClassLabel>(
        values: &[T],
        dim: usize,
        labels: impl IntoIterator<Item = L>,
    ) -> Result<Self, SvmError> {
        Self::from_values(T::into_values(values.to_vec()), dim, labels)
    }

    /// Rows held in `values` (taken, not copied), with one label per row; the classes are the
    /// distinct labels, sorted.
    pub fn from_values<L: ClassLabel>(
        values: Values,
        dim: usize,
        labels: impl IntoIterator<Item = L>,
    ) -> Result<Self, SvmError> {
        let names: Vec<String> = labels.into_iter().map(|l| l.class_name()).collect();
        let classes: Vec<String> = names
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Self::with_classes(values, dim, &names, classes)
    }

    /// Rows with their class names, indexed into a given class list (sorted and deduplicated
    /// here). Every process of a cluster passes the same list, so class indices agree even
    /// when a process holds no row of some class.
    pub fn with_classes<L: ClassLabel>(
        values: Values,
        dim: usize,
        labels: &[L],
        classes: impl IntoIterator<Item = String>,
    ) -> Result<Self, SvmError> {
        if dim == 0 {
            return Err(SvmError::ZeroDimension);
        }
        if !values.len().is_multiple_of(dim) {
            return Err(SvmError::RaggedRows {
                values: values.len(),
                dim,
            });
        }
        let rows = values.len() / dim;
        if rows != labels.len() {
            return Err(SvmError::LabelCount {
                rows,
                labels: labels.len(),
            });
        }
        let classes: Vec<String> = classes
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let targets = labels
            .iter()
            .enumerate()
            .map(|(row, l)| {
                let class = l.class_name();
                if class.is_empty() {
                    return Err(SvmError::EmptyClassName { row });
                }
                classes
                    .binary_search(&class)
                    .map_err(|_| SvmError::ClassNotListed {
                        row,
                        class,
                        known: classes.len(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Dataset {
            values,
            dim,
            classes,
            targets,
            first_row: 0,
            total_rows: rows,
        })
    }

    /// Declares these rows to be rows `first_row ..` of a data set of `total_rows` rows held
    /// over several processes (see [`crate::Executor::local_blocks`]).
    ///
    /// ```
    /// use catclass_svm::Dataset;
    /// let part = Dataset::from_slice(&[1.0f32, 2.0], 1, ["a", "b"])?.part_of(10, 40)?;
    /// assert_eq!((part.rows(), part.first_row(), part.total_rows()), (2, 10, 40));
    /// # Ok::<(), catclass_svm::SvmError>(())
    /// ```
    pub fn part_of(mut self, first_row: usize, total_rows: usize) -> Result<Self, SvmError> {
        let end = first_row + self.rows();
        if end > total_rows {
            return Err(SvmError::ShardOutOfRange {
                first: first_row,
                end,
                total: total_rows,
            });
        }
        self.first_row = first_row;
        self.total_rows = total_rows;
        Ok(self)
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.targets.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The classes, sorted.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The class index of each row (into [`Dataset::classes`]).
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }

    /// The class of row `i`.
    pub fn class_of(&self, i: usize) -> &str {
        &self.classes[self.targets[i]]
    }

    /// The values, row-major.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> Row<'_> {
        let r = i * self.dim..(i + 1) * self.dim;
        match &self.values {
            Values::F32(v) => Row::F32(&v[r]),
            Values::F64(v) => Row::F64(&v[r]),
        }
    }

    /// Global index of the first row held (0 unless this is a part, see [`Dataset::part_of`]).
    pub fn first_row(&self) -> usize {
        self.first_row
    }

    /// Rows of the whole data set (the rows held, unless this is a part).
    pub fn total_rows(&self) -> usize {
        self.total_rows
    }

    /// Whether this holds every row of its data set.
    pub fn is_whole(&self) -> bool {
        self.first_row == 0 && self.total_rows == self.rows()
    }

    /// The rows `rows` (indices held here), in that order, with the same class list.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        Dataset {
            values: self.values.select_rows(rows, self.dim),
            dim: self.dim,
            classes: self.classes.clone(),
            targets: rows.iter().map(|&r| self.targets[r]).collect(),
            first_row: 0,
            total_rows: rows.len(),
        }
    }

    /// The seeded stratified split: `(train, test)`, each in the rows' original order and with
    /// the same class list.
    ///
    /// For each class, its rows are shuffled with a ChaCha12 stream keyed by `seed` and by the
    /// class name, and the first `round(train_fraction * n)` go to training (at least one row
    /// on each side when the class has two or more). A class therefore splits the same way
    /// whatever other classes the data holds: one-vs-one and one-vs-rest put the same rows of
    /// a class in the test set. The split of rows sorted by file name is the one
    /// `catclass train` makes.
    ///
    /// ```
    /// use catclass_svm::Dataset;
    /// let labels: Vec<&str> = (0..10).map(|i| if i < 6 { "a" } else { "b" }).collect();
    /// let data = Dataset::from_slice(&[0.5f32; 10], 1, labels)?;
    /// let (train, test) = data.split_stratified(0.5, 20);
    /// assert_eq!((train.rows(), test.rows()), (5, 5));
    /// assert_eq!(data.split_stratified(0.5, 20), (train, test));
    /// # Ok::<(), catclass_svm::SvmError>(())
    /// ```
    pub fn split_stratified(&self, train_fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let names: Vec<&str> = (0..self.rows()).map(|i| self.class_of(i)).collect();
        let split = stratified_split(&names, train_fraction, seed);
        (self.select(&split.train), self.select(&split.test))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_shapes_with_the_numbers() {
        assert!(matches!(
            Dataset::from_slice(&[1.0f32; 4], 0, ["a"]),
            Err(SvmError::ZeroDimension)
        ));
        assert!(matches!(
            Dataset::from_slice(&[1.0f32; 4], 2, ["a"]),
            Err(SvmError::LabelCount { rows: 2, labels: 1 })
        ));
        assert!(matches!(
            Dataset::from_slice(&[1.0f32; 2], 1, ["a", ""]),
            Err(SvmError::EmptyClassName { row: 1 })
        ));
        let err = Dataset::with_classes(Values::F32(vec![1.0]), 1, &["z"], ["a".to_string()]);
        assert!(matches!(err, Err(SvmError::ClassNotListed { row: 0, .. })));
        let part = Dataset::from_slice(&[1.0f32; 3], 1, ["a", "a", "b"]).unwrap();
        assert!(matches!(
            part.part_of(9, 10),
            Err(SvmError::ShardOutOfRange {
                first: 9,
                end: 12,
                total: 10
            })
        ));
    }

    #[test]
    fn views_of_any_layout_and_ids_as_labels() {
        let a = ndarray::array![[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let t = a.t();
        let d = Dataset::from_rows(t, [3u32, 10, 2]).unwrap();
        assert_eq!(d.values(), &Values::F64(vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
        // Ids are class names written in decimal, sorted as names.
        assert_eq!(d.classes(), ["10", "2", "3"]);
        assert_eq!(d.targets(), [2, 0, 1]);
        assert_eq!(d.row(1), Row::F64(&[2.0, 5.0]));
    }
}
