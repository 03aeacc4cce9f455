//! Folders of the seed's feature files: listing, class names, and parallel reading.

use crate::error::{Result, StoreError};
use crate::feature_json::{self, MAX_FEATURE_FILE_BYTES};
use crate::location::Location;
use crate::shard::{self, FeatureModel, SHARD_FILE, ShardHeader};
pub use catclass_sgd::Values;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectMeta;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// The class of a feature file: its name less the last `_` part
/// (`wheaten_terrier_12.jpg.json` -> `wheaten_terrier`), as the seed derived it.
pub fn class_of(file_name: &str) -> Option<&str> {
    match file_name.rsplit_once('_') {
        Some((class, _)) if !class.is_empty() => Some(class),
        _ => None,
    }
}

/// One feature file: its name in the folder and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureEntry {
    /// File name (e.g. `Abyssinian_1.jpg.json`).
    pub name: String,
    /// Class derived from the name.
    pub class: String,
}

/// Rows read from feature files: names, classes and values.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSet {
    /// File names, in the order of the rows.
    pub names: Vec<String>,
    /// Class of each row.
    pub classes: Vec<String>,
    /// Values per row.
    pub dim: usize,
    /// The values, row-major.
    pub values: Values,
}

impl FeatureSet {
    /// Every feature file at `prefix` in `store` (the seed's JSON files, or their shard when it
    /// holds exactly them), rows in file-name order, classes from the names. Runs on the
    /// caller's tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use catclass_store::{Values, FeatureSet, Location};
    /// let store = Arc::new(object_store::memory::InMemory::new());
    /// let rows = FeatureSet {
    ///     names: vec!["cat_1.png.json".into(), "dog_1.png.json".into()],
    ///     classes: vec!["cat".into(), "dog".into()],
    ///     dim: 2,
    ///     values: Values::F32(vec![1.0, 0.0, 0.0, 1.0]),
    /// };
    /// rows.write_json_files(&Location::in_store(store.clone(), "mem", "f"), 8).await?;
    /// let back = FeatureSet::read(store, "f").await?;
    /// assert_eq!(back, rows);
    /// # Ok::<(), catclass_store::StoreError>(()) }).unwrap();
    /// ```
    pub async fn read(store: Arc<dyn object_store::ObjectStore>, prefix: &str) -> Result<Self> {
        let location = Location::in_store(store, "store", prefix);
        let catalog = FeatureCatalog::list(&location).await?;
        catalog.read(catalog.entries(), 64, &|_| {}).await
    }

    /// Writes row `i` as the seed's feature file `names[i]` (one JSON array of numbers) into
    /// `loc`, each atomically, `concurrency` writes in flight, formatted on the workers of the
    /// caller's tokio runtime.
    pub async fn write_json_files(&self, loc: &Location, concurrency: usize) -> Result<()> {
        let dim = self.dim;
        futures::stream::iter(0..self.rows())
            .map(|i| {
                let loc = loc.clone();
                let name = self.names[i].clone();
                let row = self.values.select_rows(&[i], dim);
                let task = tokio::spawn(async move {
                    let text = match &row {
                        Values::F32(v) => feature_json::to_json(v),
                        Values::F64(v) => feature_json::to_json(v),
                    };
                    loc.put(&name, text).await
                });
                async move {
                    task.await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.names.len()
    }

    /// The same set with `dim` recorded when it has no row (its own otherwise).
    pub fn with_dim(mut self, dim: usize) -> Self {
        if self.names.is_empty() {
            self.dim = dim;
        }
        self
    }
}

/// Which features to read from a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeatureFormat {
    /// The shard ([`SHARD_FILE`]) when there is one and it holds exactly the JSON files of the
    /// folder (or there are none); the JSON files otherwise.
    #[default]
    Auto,
    /// The seed's JSON files only.
    Json,
    /// The shard only.
    Shard,
}

impl std::str::FromStr for FeatureFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(FeatureFormat::Auto),
            "json" => Ok(FeatureFormat::Json),
            "shard" => Ok(FeatureFormat::Shard),
            _ => Err(format!(
                "unknown feature format {s:?} (auto, json or shard)"
            )),
        }
    }
}

/// Where a catalog's rows are read from.
#[derive(Debug, Clone)]
pub enum FeatureSource {
    /// One seed JSON file per row.
    Json,
    /// Rows of a shard.
    Shard {
        /// Where the shard is: the folder itself, or a cache elsewhere
        /// ([`FeatureCatalog::cached`]).
        location: Location,
        /// The shard's object name in `location`.
        file: String,
        /// Its header.
        header: Arc<ShardHeader>,
        /// Row of each feature file name.
        rows: Arc<HashMap<String, usize>>,
    },
    /// Rows already read (every file of the folder), held in memory.
    Held {
        /// All the rows.
        set: Arc<FeatureSet>,
        /// Row of each feature file name.
        rows: Arc<HashMap<String, usize>>,
    },
}

/// The feature files of one location, listed once.
#[derive(Debug, Clone)]
pub struct FeatureCatalog {
    location: Location,
    entries: Vec<FeatureEntry>,
    source: FeatureSource,
    skipped: Vec<String>,
    /// Of the JSON files listed (names, sizes, modification times, ETags), when they are
    /// the source.
    fingerprint: Option<String>,
    /// The listed size of each JSON file: a file read with another size is refused.
    listed_sizes: Arc<HashMap<String, u64>>,
}

fn entry_of(location: &Location, name: String) -> Result<FeatureEntry> {
    let Some(class) = class_of(&name) else {
        return Err(StoreError::BadFileName {
            file: location.describe(&name),
        });
    };
    let class = class.to_string();
    Ok(FeatureEntry { name, class })
}

impl FeatureCatalog {
    /// Lists `location` once and chooses its features per [`FeatureFormat::Auto`].
    pub async fn list(location: &Location) -> Result<Self> {
        Self::list_as(location, FeatureFormat::Auto).await
    }

    /// Lists `location` once: `*.json` directly in it, and the shard [`SHARD_FILE`]; entries
    /// sorted by name (code-point order), whichever the source.
    pub async fn list_as(location: &Location, format: FeatureFormat) -> Result<Self> {
        let mut json_names = Vec::new();
        let mut json_metas = Vec::new();
        let mut has_shard = false;
        let listing = location.list_skipping().await?;
        for meta in &listing.objects {
            let name = location.name_of(meta);
            if name == SHARD_FILE {
                has_shard = true;
            } else if name.ends_with(".json") {
                json_metas.push((name.clone(), meta));
                json_names.push(name);
            }
        }
        json_names.sort();
        json_metas.sort_by(|a, b| a.0.cmp(&b.0));
        let use_shard = match format {
            FeatureFormat::Json => false,
            FeatureFormat::Shard if !has_shard => {
                return Err(StoreError::FeatureFormat {
                    location: location.to_string(),
                    problem: format!("no feature shard {SHARD_FILE} here"),
                });
            }
            FeatureFormat::Shard => true,
            FeatureFormat::Auto => has_shard,
        };
        let (names, source) = if use_shard {
            let header = shard::read_header(location, SHARD_FILE).await?;
            let mut names = header.names.clone();
            names.sort();
            if format == FeatureFormat::Auto && !json_names.is_empty() && names != json_names {
                // The folder changed since the shard was written: the JSON files are the truth.
                (json_names, FeatureSource::Json)
            } else {
                let rows = header
                    .names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), i))
                    .collect::<HashMap<_, _>>();
                if rows.len() != header.rows() {
                    return Err(StoreError::BadShard {
                        file: location.describe(SHARD_FILE),
                        problem: "the same file name is given to two rows".into(),
                    });
                }
                let source = FeatureSource::Shard {
                    location: location.clone(),
                    file: SHARD_FILE.to_string(),
                    header: Arc::new(header),
                    rows: Arc::new(rows),
                };
                (names, source)
            }
        } else {
            (json_names, FeatureSource::Json)
        };
        let entries = names
            .into_iter()
            .map(|n| entry_of(location, n))
            .collect::<Result<Vec<_>>>()?;
        if entries.is_empty() {
            return Err(StoreError::NoFeatureFiles {
                location: location.to_string(),
            });
        }
        let fingerprint = matches!(source, FeatureSource::Json).then(|| fingerprint(&json_metas));
        let listed_sizes = json_metas
            .iter()
            .map(|(name, meta)| (name.clone(), meta.size))
            .collect();
        Ok(FeatureCatalog {
            location: location.clone(),
            entries,
            source,
            skipped: listing.skipped,
            fingerprint,
            listed_sizes: Arc::new(listed_sizes),
        })
    }

    /// Entries of the location that could not be listed (each with why): left out, to be
    /// reported by the caller.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The fingerprint of the JSON files listed, when they are the source.
    pub(crate) fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// The same files read from `source`.
    pub(crate) fn with_source(mut self, source: FeatureSource) -> Self {
        self.source = source;
        self.fingerprint = None;
        self
    }

    /// Where the rows are read from.
    pub fn source(&self) -> &FeatureSource {
        &self.source
    }

    /// `shard <file>` or `json`, for reports.
    pub fn source_name(&self) -> String {
        match &self.source {
            FeatureSource::Json => "json".to_string(),
            FeatureSource::Shard { location, file, .. } => {
                if location.to_string() == self.location.to_string() {
                    format!("shard {file}")
                } else {
                    format!("cache {}", location.describe(file))
                }
            }
            FeatureSource::Held { .. } => "json".to_string(),
        }
    }

    /// What produced the features, when the shard records it.
    pub fn feature_model(&self) -> Option<&FeatureModel> {
        match &self.source {
            FeatureSource::Shard { header, .. } => header.feature_model.as_ref(),
            FeatureSource::Json | FeatureSource::Held { .. } => None,
        }
    }

    /// Where the files are.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Every file, sorted by name.
    pub fn entries(&self) -> &[FeatureEntry] {
        &self.entries
    }

    /// The distinct classes, sorted.
    pub fn classes(&self) -> Vec<String> {
        let mut c: Vec<String> = self.entries.iter().map(|e| e.class.clone()).collect();
        c.sort();
        c.dedup();
        c
    }

    /// Fails with the list of known classes unless `class` (matched exactly) is present.
    pub fn require_class(&self, class: &str) -> Result<()> {
        if self.entries.iter().any(|e| e.class == class) {
            Ok(())
        } else {
            Err(StoreError::UnknownClass {
                class: class.to_string(),
                location: self.location.to_string(),
                known: self.classes(),
            })
        }
    }

    /// Reads `entries` (in that order) with at most `concurrency` reads in flight, parsing as
    /// they arrive; `progress` is called with the number of files done so far.
    pub async fn read(
        &self,
        entries: &[FeatureEntry],
        concurrency: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<FeatureSet> {
        if let FeatureSource::Held { set, rows } = &self.source {
            let wanted = self.rows_of(entries, rows)?;
            progress(entries.len());
            return Ok(FeatureSet {
                names: entries.iter().map(|e| e.name.clone()).collect(),
                classes: entries.iter().map(|e| e.class.clone()).collect(),
                dim: if entries.is_empty() { 0 } else { set.dim },
                values: set.values.select_rows(&wanted, set.dim),
            });
        }
        if let FeatureSource::Shard {
            location,
            file,
            header,
            rows,
        } = &self.source
        {
            let wanted = self.rows_of(entries, rows)?;
            let values = shard::read_rows(location, file, header, &wanted, concurrency).await?;
            progress(entries.len());
            return Ok(FeatureSet {
                names: entries.iter().map(|e| e.name.clone()).collect(),
                classes: entries.iter().map(|e| e.class.clone()).collect(),
                dim: if entries.is_empty() { 0 } else { header.dim },
                values: Values::F32(values),
            });
        }
        self.read_json(entries, concurrency, progress).await
    }

    /// The row of each of `entries` in a shard or held set (in that order).
    fn rows_of(
        &self,
        entries: &[FeatureEntry],
        rows: &HashMap<String, usize>,
    ) -> Result<Vec<usize>> {
        entries
            .iter()
            .map(|e| {
                rows.get(&e.name)
                    .copied()
                    .ok_or_else(|| StoreError::NotFound {
                        location: self.location.describe(&e.name),
                    })
            })
            .collect()
    }

    /// Reads `entries` from their JSON files.
    pub(crate) async fn read_json(
        &self,
        entries: &[FeatureEntry],
        concurrency: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<FeatureSet> {
        let loc = &self.location;
        if matches!(loc.kind(), crate::location::LocationKind::Local(_)) {
            return self.read_json_local(entries, progress).await;
        }
        let parsed: Vec<Values> = futures::stream::iter(entries.iter().cloned())
            .map(|entry| {
                let loc = loc.clone();
                let listed = self.listed_sizes.get(&entry.name).copied();
                tokio::spawn(async move {
                    let bytes = loc
                        .get_at_most(&entry.name, MAX_FEATURE_FILE_BYTES, "a feature file")
                        .await?;
                    parse_listed(&loc, &entry.name, &bytes, listed)
                })
            })
            .buffered(concurrency.max(1))
            .map(|joined| joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())))
            .enumerate()
            .map(|(k, r)| {
                progress(k + 1);
                r
            })
            .try_collect()
            .await?;
        assemble(loc, entries, parsed)
    }
}

impl FeatureCatalog {
    /// [`Self::read_json`] for a local folder: files read and parsed in runs of
    /// [`LOCAL_RUN`], each run one blocking task (one hop per run, not two per file), as many
    /// runs in flight as the machine has cores, twice.
    async fn read_json_local(
        &self,
        entries: &[FeatureEntry],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<FeatureSet> {
        let in_flight = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut done = 0;
        let names: Vec<Vec<String>> = entries
            .chunks(LOCAL_RUN)
            .map(|run| run.iter().map(|e| e.name.clone()).collect())
            .collect();
        let runs: Vec<Vec<Values>> = futures::stream::iter(names)
            .map(|names: Vec<String>| {
                let loc = self.location.clone();
                let listed = self.listed_sizes.clone();
                tokio::task::spawn_blocking(move || {
                    names
                        .iter()
                        .map(|name| {
                            let bytes = loc
                                .read_local_at_most(name, MAX_FEATURE_FILE_BYTES, "a feature file")
                                .expect("a local location")?;
                            parse_listed(&loc, name, &bytes, listed.get(name).copied())
                        })
                        .collect::<Result<Vec<Values>>>()
                })
            })
            .buffered(in_flight)
            .map(|joined| joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())))
            .map(|run| {
                if let Ok(r) = &run {
                    done += r.len();
                    progress(done);
                }
                run
            })
            .try_collect()
            .await?;
        assemble(
            &self.location,
            entries,
            runs.into_iter().flatten().collect(),
        )
    }
}

/// One feature file's bytes as values, narrowed to `f32` when exact. Bytes of another length
/// than the file's listed size (a response cut short, or a file changed since it was listed)
/// are refused, never parsed: a prefix of a feature file can be a valid one.
fn parse_listed(loc: &Location, name: &str, bytes: &[u8], listed: Option<u64>) -> Result<Values> {
    if let Some(size) = listed.filter(|&s| s != bytes.len() as u64) {
        return Err(StoreError::LengthMismatch {
            location: loc.describe(name),
            received: bytes.len() as u64,
            expected: size,
            expected_from: "its listed size",
        });
    }
    let values = feature_json::parse(bytes).map_err(|source| StoreError::FeatureFile {
        file: loc.describe(name),
        source,
    })?;
    Ok(narrowed(values))
}

/// The fingerprint of JSON feature files (sorted by name): SHA-256 over each one's name,
/// size, modification time (nanoseconds) and ETag.
fn fingerprint(files: &[(String, &ObjectMeta)]) -> String {
    let mut h = Sha256::new();
    for (name, meta) in files {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(meta.size.to_le_bytes());
        let t = meta.last_modified;
        h.update(t.timestamp().to_le_bytes());
        h.update(t.timestamp_subsec_nanos().to_le_bytes());
        let tag = meta.e_tag.as_deref().unwrap_or("");
        h.update((tag.len() as u64).to_le_bytes());
        h.update(tag.as_bytes());
    }
    let digest = h.finalize();
    let mut hex = String::with_capacity(2 * digest.len() + 7);
    hex.push_str("sha256:");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Files per blocking task when reading a local folder.
const LOCAL_RUN: usize = 32;

/// A file's values as `f32` when every one of them is exactly a `f32` (half the memory, and
/// what a network writes), as read otherwise.
fn narrowed(values: Vec<f64>) -> Values {
    if values.iter().all(|x| f64::from(*x as f32) == *x) {
        Values::F32(values.iter().map(|x| *x as f32).collect())
    } else {
        Values::F64(values)
    }
}

fn assemble(loc: &Location, entries: &[FeatureEntry], parsed: Vec<Values>) -> Result<FeatureSet> {
    let dim = parsed.first().map_or(0, Values::len);
    for (e, v) in entries.iter().zip(&parsed) {
        if v.len() != dim {
            return Err(StoreError::DimensionMismatch {
                file: loc.describe(&e.name),
                found: v.len(),
                expected: dim,
                reference: loc.describe(&entries[0].name),
            });
        }
    }
    // One matrix: `f32` when every file was, `f64` (each value as read) otherwise.
    let values = if parsed.iter().all(|v| matches!(v, Values::F32(_))) {
        let mut all = Vec::with_capacity(dim * parsed.len());
        for v in &parsed {
            if let Values::F32(v) = v {
                all.extend_from_slice(v);
            }
        }
        Values::F32(all)
    } else {
        let mut all = Vec::with_capacity(dim * parsed.len());
        for v in &parsed {
            match v {
                Values::F32(v) => all.extend(v.iter().map(|x| f64::from(*x))),
                Values::F64(v) => all.extend_from_slice(v),
            }
        }
        Values::F64(all)
    };
    Ok(FeatureSet {
        names: entries.iter().map(|e| e.name.clone()).collect(),
        classes: entries.iter().map(|e| e.class.clone()).collect(),
        dim,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_is_the_name_less_its_last_part() {
        assert_eq!(
            class_of("wheaten_terrier_12.jpg.json"),
            Some("wheaten_terrier")
        );
        assert_eq!(class_of("Abyssinian_1.jpg.json"), Some("Abyssinian"));
        assert_eq!(class_of("noclass.json"), None);
        assert_eq!(class_of("_1.json"), None);
    }
}
