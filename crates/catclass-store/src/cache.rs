//! A cache of a folder's JSON feature files: the same rows as one shard, read at the speed of
//! the disk the second time.
//!
//! The cache records the fingerprint of the files it was packed from (each name, size,
//! modification time and ETag) and is used only while the folder lists the very same files:
//! a file added, removed, rewritten or touched makes it stale, and a stale (or damaged) cache
//! is never read: the JSON files are, and the cache is written again. It holds `float32`
//! values, so a folder with values that `float32` cannot hold exactly is not cached.

use crate::error::{Result, StoreError};
use crate::features::{FeatureCatalog, FeatureSource};
use crate::location::Location;
use crate::shard;
use catclass_sgd::Values;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a folder's cache is kept: object `name` of `location` (anywhere: beside the folder,
/// in a local cache folder, on S3).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use catclass_store::{CacheUse, FeatureCache, FeatureCatalog, FeatureSet, Location, Values};
/// let store = Arc::new(object_store::memory::InMemory::new());
/// let folder = Location::in_store(store.clone(), "mem", "features");
/// let rows = FeatureSet {
///     names: vec!["cat_1.png.json".into(), "dog_1.png.json".into()],
///     classes: vec!["cat".into(), "dog".into()],
///     dim: 2,
///     values: Values::F32(vec![1.0, 0.5, 0.0, 1.0]),
/// };
/// rows.write_json_files(&folder, 8).await?;
/// let cache = FeatureCache::new(Location::in_store(store, "mem", "cache"), "features.safetensors");
///
/// let catalog = FeatureCatalog::list(&folder).await?;
/// let (first, used) = catalog.cached(&cache, 8, &|_| {}).await?;
/// assert_eq!(used, CacheUse::Written);
/// let catalog = FeatureCatalog::list(&folder).await?;
/// let (second, used) = catalog.cached(&cache, 8, &|_| {}).await?;
/// assert_eq!(used, CacheUse::Fresh);
/// assert_eq!(second.read(second.entries(), 8, &|_| {}).await?, rows);
/// # Ok::<(), catclass_store::StoreError>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct FeatureCache {
    location: Location,
    name: String,
}

/// What [`FeatureCatalog::cached`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheUse {
    /// The cache holds exactly the folder's files: rows are read from it.
    Fresh,
    /// The cache was missing, stale or damaged: the JSON files were read and the cache written.
    Written,
    /// The JSON files were read but not cached (the reason says why).
    NotWritten {
        /// Why.
        reason: String,
    },
    /// The folder's features are a shard already: no cache is needed.
    NotNeeded,
}

impl FeatureCache {
    /// The cache object `name` in `location`.
    pub fn new(location: Location, name: impl Into<String>) -> Self {
        FeatureCache {
            location,
            name: name.into(),
        }
    }

    /// Where the cache is, for messages.
    pub fn describe(&self) -> String {
        self.location.describe(&self.name)
    }
}

impl FeatureCatalog {
    /// This catalog reading through `cache`: its rows from the cache when the cache holds
    /// exactly the folder's files (same names, sizes, modification times), otherwise every
    /// JSON file read once (`concurrency` reads in flight, `progress` as [`Self::read`]), the
    /// cache written (atomically) and the rows kept in memory. Either way, the catalog then
    /// reads its rows without touching the JSON files again.
    pub async fn cached(
        self,
        cache: &FeatureCache,
        concurrency: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(FeatureCatalog, CacheUse)> {
        let Some(fingerprint) = self.fingerprint().map(str::to_owned) else {
            return Ok((self, CacheUse::NotNeeded));
        };
        let names: Vec<&str> = self.entries().iter().map(|e| e.name.as_str()).collect();
        // A cache that cannot be read (absent, damaged, of other files) is simply not used.
        if let Ok(header) = shard::read_header(&cache.location, &cache.name).await {
            let mut cached: Vec<&str> = header.names.iter().map(String::as_str).collect();
            cached.sort_unstable();
            if header.source.as_deref() == Some(fingerprint.as_str()) && cached == names {
                let rows = row_index(&header.names, || cache.describe())?;
                let source = FeatureSource::Shard {
                    location: cache.location.clone(),
                    file: cache.name.clone(),
                    header: Arc::new(header),
                    rows: Arc::new(rows),
                };
                return Ok((self.with_source(source), CacheUse::Fresh));
            }
        }
        let set = self
            .read_json(self.entries(), concurrency, progress)
            .await?;
        let used = match &set.values {
            Values::F32(values) => {
                shard::write_with_source(
                    &cache.location,
                    &cache.name,
                    &set.names,
                    set.dim,
                    values,
                    None,
                    Some(&fingerprint),
                )
                .await?;
                CacheUse::Written
            }
            _ => CacheUse::NotWritten {
                reason: "the files hold values that float32 cannot hold exactly".into(),
            },
        };
        let rows = row_index(&set.names, || cache.describe())?;
        let source = FeatureSource::Held {
            set: Arc::new(set),
            rows: Arc::new(rows),
        };
        Ok((self.with_source(source), used))
    }
}

fn row_index(names: &[String], file: impl Fn() -> String) -> Result<HashMap<String, usize>> {
    let rows: HashMap<String, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i))
        .collect();
    if rows.len() != names.len() {
        return Err(StoreError::BadShard {
            file: file(),
            problem: "the same file name is given to two rows".into(),
        });
    }
    Ok(rows)
}
