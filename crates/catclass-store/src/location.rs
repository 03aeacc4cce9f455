//! Where data lives: a prefix inside an [`object_store::ObjectStore`] (a local folder, an S3
//! bucket, or any store the caller built).

use crate::error::{Result, StoreError};
#[cfg(feature = "s3")]
use crate::options::StoreOptions;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

/// A folder-like place holding objects: a store and a prefix inside it.
#[derive(Debug, Clone)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    display: String,
    kind: LocationKind,
}

/// The kind of store behind a [`Location`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocationKind {
    /// A local folder.
    Local(std::path::PathBuf),
    /// An S3 bucket.
    S3 {
        /// Bucket name.
        bucket: String,
    },
    /// A store the caller built (any [`ObjectStore`]), under the name it was given.
    Store(String),
}

impl Location {
    /// `prefix` inside a store the caller built: local, S3, in memory or any other
    /// [`ObjectStore`]. `name` is how messages show the store (e.g. `my-bucket`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use catclass_store::Location;
    /// let store = Arc::new(object_store::memory::InMemory::new());
    /// let loc = Location::in_store(store, "mem", "features/train");
    /// assert_eq!(loc.describe("a_1.json"), "mem/features/train/a_1.json");
    /// ```
    pub fn in_store(store: Arc<dyn ObjectStore>, name: &str, prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        let display = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{name}/{prefix}")
        };
        Location {
            store,
            prefix: Path::from(prefix),
            display,
            kind: LocationKind::Store(name.to_string()),
        }
    }

    /// A local folder; with `create`, it is made if missing (otherwise it must exist).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let loc = catclass_store::Location::local(dir.path().join("out"), true)?;
    /// assert!(dir.path().join("out").is_dir());
    /// assert!(catclass_store::Location::local(dir.path().join("absent"), false).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local(path: impl AsRef<std::path::Path>, create: bool) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if create {
            std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
                location: path.display().to_string(),
                source,
            })?;
        }
        if !path.is_dir() {
            let location = path.display().to_string();
            return Err(if path.exists() {
                StoreError::InvalidLocation {
                    location,
                    reason: "not a folder".into(),
                }
            } else {
                StoreError::NotFound { location }
            });
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(&path)
            .map_err(|e| StoreError::object(path.display().to_string(), e))?;
        Ok(Location {
            store: Arc::new(store),
            prefix: Path::from(""),
            display: path.display().to_string(),
            kind: LocationKind::Local(path),
        })
    }

    /// `prefix` in S3 bucket `bucket`: credentials and region from the standard AWS
    /// environment, the endpoint, retries and timeouts from `opts`.
    #[cfg(feature = "s3")]
    pub fn s3(bucket: &str, prefix: &str, opts: &StoreOptions) -> Result<Self> {
        let prefix = prefix.trim_matches('/');
        let location = format!("s3://{bucket}/{prefix}")
            .trim_end_matches('/')
            .to_string();
        if bucket.is_empty() {
            return Err(StoreError::InvalidLocation {
                location,
                reason: "no bucket name".into(),
            });
        }
        let store =
            crate::s3::build(bucket, opts.s3_endpoint.as_deref(), &opts.s3).map_err(|e| {
                StoreError::InvalidLocation {
                    location: location.clone(),
                    reason: e.to_string(),
                }
            })?;
        Ok(Location {
            store,
            prefix: Path::from(prefix),
            display: location,
            kind: LocationKind::S3 {
                bucket: bucket.to_string(),
            },
        })
    }

    /// What kind of store this is.
    pub fn kind(&self) -> &LocationKind {
        &self.kind
    }

    /// The object store behind this location.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object path of `name` inside this location.
    pub fn path_of(&self, name: &str) -> Path {
        if self.prefix.as_ref().is_empty() {
            Path::from(name)
        } else {
            self.prefix.clone().join(name)
        }
    }

    /// A human-readable location of `name` (a local path, or `s3://bucket/key`).
    pub fn describe(&self, name: &str) -> String {
        match &self.kind {
            LocationKind::Local(p) => p.join(name).display().to_string(),
            _ => format!("{}/{name}", self.display),
        }
    }

    /// Lists the objects directly inside this location (not in sub-folders), sorted by name;
    /// an entry that cannot be listed (e.g. a local file name that is not UTF-8) is an error.
    /// [`Location::list_skipping`] lists the others and says which were left out.
    pub async fn list(&self) -> Result<Vec<ObjectMeta>> {
        let listing = self.list_skipping().await?;
        match listing.skipped.first() {
            Some(first) => Err(StoreError::InvalidLocation {
                location: self.display.clone(),
                reason: format!("an entry cannot be listed: {first}"),
            }),
            None => Ok(listing.objects),
        }
    }

    /// Lists the objects directly inside this location (not in sub-folders), sorted by name,
    /// going on past entries that cannot be listed (a local file name that is not UTF-8):
    /// those are in [`Listing::skipped`], each with why.
    pub async fn list_skipping(&self) -> Result<Listing> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let mut listing = Listing::default();
        if let LocationKind::Local(folder) = &self.kind {
            // object_store's local listing stops at the first bad name (and drops the rest):
            // the folder is read here, going on past them.
            let folder = folder.clone();
            let location = self.display.clone();
            listing = tokio::task::spawn_blocking(move || list_folder(&folder))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
                .map_err(|source| match source.kind() {
                    std::io::ErrorKind::NotFound => StoreError::NotFound { location },
                    _ => StoreError::Io { location, source },
                })?;
        } else {
            listing.objects = self
                .store
                .list_with_delimiter(prefix)
                .await
                .map_err(|e| self.error(self.display.clone(), e))?
                .objects;
        }
        listing
            .objects
            .sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
        Ok(listing)
    }

    /// The name of an object relative to this location.
    pub fn name_of(&self, meta: &ObjectMeta) -> String {
        meta.location.filename().unwrap_or_default().to_string()
    }

    /// Reads object `name` whole.
    pub async fn get(&self, name: &str) -> Result<Bytes> {
        let path = self.path_of(name);
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.error(self.describe(name), e))?;
        result
            .bytes()
            .await
            .map_err(|e| self.error(self.describe(name), e))
    }

    /// Reads object `name` whole, refusing it (before reading when its size is known, else as
    /// soon as more arrives) if it is over `max` bytes: a hostile or mistaken object cannot
    /// exhaust memory. `what` names the kind of object in the error.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let loc = catclass_store::Location::in_store(
    ///     std::sync::Arc::new(object_store::memory::InMemory::new()), "mem", "");
    /// loc.put("big.json", vec![b' '; 100]).await?;
    /// assert_eq!(loc.get_at_most("big.json", 100, "a document").await?.len(), 100);
    /// assert!(loc.get_at_most("big.json", 99, "a document").await.is_err());
    /// # Ok::<(), catclass_store::StoreError>(()) }).unwrap();
    /// ```
    pub async fn get_at_most(&self, name: &str, max: u64, what: &'static str) -> Result<Bytes> {
        use futures::StreamExt;
        let path = self.path_of(name);
        let too_large = |size| StoreError::TooLarge {
            location: self.describe(name),
            size,
            max,
            what,
        };
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.error(self.describe(name), e))?;
        if result.meta.size > max {
            return Err(too_large(result.meta.size));
        }
        if matches!(result.payload, object_store::GetResultPayload::File(..)) {
            // A local file: one blocking read of the size just checked (its stream would make
            // one blocking task per 8 KiB chunk).
            return result
                .bytes()
                .await
                .map_err(|e| self.error(self.describe(name), e));
        }
        let mut bytes = Vec::with_capacity(result.meta.size as usize);
        let mut body = result.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.error(self.describe(name), e))?;
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(too_large((bytes.len() + chunk.len()) as u64));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    }

    /// For a local folder, reads file `name` (at most `max` bytes, as [`Self::get_at_most`])
    /// on the calling thread, for callers that read many small files from a blocking task;
    /// `None` for other stores.
    pub(crate) fn read_local_at_most(
        &self,
        name: &str,
        max: u64,
        what: &'static str,
    ) -> Option<Result<Vec<u8>>> {
        use std::io::Read;
        let LocationKind::Local(folder) = &self.kind else {
            return None;
        };
        let file = folder.join(self.path_of(name).as_ref());
        let location = || self.describe(name);
        let io = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound {
                location: location(),
            },
            _ => StoreError::Io {
                location: location(),
                source,
            },
        };
        Some((|| {
            let f = std::fs::File::open(&file).map_err(io)?;
            let size = f.metadata().map_err(io)?.len();
            if size > max {
                return Err(StoreError::TooLarge {
                    location: location(),
                    size,
                    max,
                    what,
                });
            }
            let mut bytes = Vec::with_capacity(size as usize);
            f.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
            if bytes.len() as u64 > max {
                return Err(StoreError::TooLarge {
                    location: location(),
                    size: bytes.len() as u64,
                    max,
                    what,
                });
            }
            Ok(bytes)
        })())
    }

    /// Reads bytes `range` of object `name` (one ranged GET); fewer or more bytes than asked
    /// are a [`StoreError::LengthMismatch`].
    pub async fn get_range(&self, name: &str, range: std::ops::Range<u64>) -> Result<Bytes> {
        let bytes = self
            .store
            .get_range(&self.path_of(name), range.clone())
            .await
            .map_err(|e| self.error(self.describe(name), e))?;
        self.check_range(name, &range, &bytes)?;
        Ok(bytes)
    }

    /// Fails unless `bytes` are as many as `range` asked (object_store returns a body cut
    /// short as it came).
    fn check_range(&self, name: &str, range: &std::ops::Range<u64>, bytes: &Bytes) -> Result<()> {
        let expected = range.end.saturating_sub(range.start);
        if bytes.len() as u64 == expected {
            return Ok(());
        }
        Err(StoreError::LengthMismatch {
            location: self.describe(name),
            received: bytes.len() as u64,
            expected,
            expected_from: "the range asked",
        })
    }

    /// Reads several byte ranges of object `name`; nearby ranges are coalesced into fewer
    /// ranged GETs, issued concurrently. A part of another length than its range is a
    /// [`StoreError::LengthMismatch`].
    pub async fn get_ranges(
        &self,
        name: &str,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<Bytes>> {
        let parts = self
            .store
            .get_ranges(&self.path_of(name), ranges)
            .await
            .map_err(|e| self.error(self.describe(name), e))?;
        for (range, bytes) in ranges.iter().zip(&parts) {
            self.check_range(name, range, bytes)?;
        }
        Ok(parts)
    }

    /// The size in bytes of object `name`.
    pub async fn size(&self, name: &str) -> Result<u64> {
        self.store
            .head(&self.path_of(name))
            .await
            .map(|m| m.size)
            .map_err(|e| self.error(self.describe(name), e))
    }

    /// Wraps an object store error about `location` (this location or an object in it): on S3
    /// the failure is explained on one line naming the bucket and key.
    pub fn error(&self, location: String, e: object_store::Error) -> StoreError {
        match &self.kind {
            LocationKind::S3 { bucket } => StoreError::s3(location, bucket, &e),
            _ => StoreError::object(location, e),
        }
    }

    /// Whether object `name` exists.
    pub async fn exists(&self, name: &str) -> Result<bool> {
        match self.store.head(&self.path_of(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(self.describe(name), e)),
        }
    }

    /// Writes object `name` atomically: readers see the old object or the whole new one, never
    /// a part (S3 puts are atomic; local puts write a temporary file and rename it).
    pub async fn put(&self, name: &str, bytes: impl Into<Bytes>) -> Result<()> {
        let bytes = bytes.into();
        if let LocationKind::Local(folder) = &self.kind {
            // object_store's local writes are atomic but not durable: a machine crash can leave
            // an empty or partial file under the final name. This writes, syncs, renames and
            // syncs the folder instead.
            let file = folder.join(self.path_of(name).as_ref());
            let location = self.describe(name);
            return tokio::task::spawn_blocking(move || write_durably(&file, &bytes))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
                .map_err(|source| StoreError::Io { location, source });
        }
        if bytes.len() > MULTIPART_BYTES {
            return self.put_in_parts(name, bytes).await;
        }
        let payload = PutPayload::from_bytes(bytes);
        self.store
            .put(&self.path_of(name), payload)
            .await
            .map(|_| ())
            .map_err(|e| self.error(self.describe(name), e))
    }
}

/// What [`Location::list_skipping`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// The objects, sorted by name.
    pub objects: Vec<ObjectMeta>,
    /// The entries left out, each with why.
    pub skipped: Vec<String>,
}

/// The regular files directly in `folder` (symbolic links followed), and the entries left out:
/// names that are not UTF-8, entries that cannot be read.
fn list_folder(folder: &std::path::Path) -> std::io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(folder)? {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                listing.skipped.push(format!("{}: {e}", folder.display()));
                continue;
            }
        };
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            listing
                .skipped
                .push(format!("{}: the file name is not UTF-8", path.display()));
            continue;
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                listing.skipped.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if !meta.is_file() {
            continue;
        }
        // The name as object_store's own listing gives it (not percent-encoded).
        let location = match Path::parse(&name) {
            Ok(p) => p,
            Err(e) => {
                listing.skipped.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        listing.objects.push(ObjectMeta {
            location,
            last_modified: meta
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_default(),
            size: meta.len(),
            e_tag: None,
            version: None,
        });
    }
    Ok(listing)
}

/// Objects larger than this are uploaded in parts of this size (S3 takes at most 5 GB in one
/// PUT, and parts are retried one by one).
pub const MULTIPART_BYTES: usize = 16 << 20;

impl Location {
    /// Uploads `bytes` as a multipart upload of [`MULTIPART_BYTES`] parts (a few in flight),
    /// aborted on failure so no partial object appears.
    /// Writes object `name` from `chunks` (of `size` bytes in all) without holding them all:
    /// a local file through a temporary one (synced and renamed, as [`Self::put`]); on other
    /// stores one PUT up to [`MULTIPART_BYTES`], a multipart upload above (aborted on failure).
    /// Either way the object appears whole or not at all.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use bytes::Bytes;
    /// let dir = tempfile::tempdir().unwrap();
    /// let loc = catclass_store::Location::local(dir.path(), false)?;
    /// let chunks = (0..3u8).map(|i| Bytes::from(vec![i; 4]));
    /// loc.put_chunks("x.bin", 12, futures::stream::iter(chunks)).await?;
    /// assert_eq!(std::fs::read(dir.path().join("x.bin")).unwrap().len(), 12);
    /// # Ok::<(), catclass_store::StoreError>(()) }).unwrap();
    /// ```
    pub async fn put_chunks(
        &self,
        name: &str,
        size: u64,
        chunks: impl futures::Stream<Item = Bytes> + Send,
    ) -> Result<()> {
        use futures::StreamExt;
        let mut chunks = std::pin::pin!(chunks);
        if let LocationKind::Local(folder) = &self.kind {
            let file = folder.join(self.path_of(name).as_ref());
            let location = self.describe(name);
            // The writer runs on a blocking thread; two chunks wait for it at most.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(2);
            let writer = tokio::task::spawn_blocking(move || {
                write_durably_with(&file, |f| {
                    use std::io::Write;
                    let mut written = 0u64;
                    while let Some(chunk) = rx.blocking_recv() {
                        f.write_all(&chunk)?;
                        written += chunk.len() as u64;
                    }
                    // Short or long: never renamed into place.
                    if written != size {
                        return Err(std::io::Error::other(format!(
                            "{written} bytes to write, {size} announced"
                        )));
                    }
                    Ok(())
                })
            });
            while let Some(chunk) = chunks.next().await {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
            drop(tx);
            return writer
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
                .map_err(|source| StoreError::Io { location, source });
        }
        if size <= MULTIPART_BYTES as u64 {
            let mut all = Vec::with_capacity(size as usize);
            while let Some(chunk) = chunks.next().await {
                all.extend_from_slice(&chunk);
            }
            return self.put(name, all).await;
        }
        let path = self.path_of(name);
        let err = |e| self.error(self.describe(name), e);
        let upload = self.store.put_multipart(&path).await.map_err(err)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, MULTIPART_BYTES);
        while let Some(chunk) = chunks.next().await {
            if let Err(e) = writer.wait_for_capacity(4).await {
                let _ = writer.abort().await;
                return Err(err(e));
            }
            writer.put(chunk);
        }
        writer.finish().await.map(|_| ()).map_err(err)
    }

    async fn put_in_parts(&self, name: &str, bytes: Bytes) -> Result<()> {
        let path = self.path_of(name);
        let err = |e| self.error(self.describe(name), e);
        let upload = self.store.put_multipart(&path).await.map_err(err)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, MULTIPART_BYTES);
        for part in bytes.chunks(MULTIPART_BYTES) {
            if let Err(e) = writer.wait_for_capacity(4).await {
                let _ = writer.abort().await;
                return Err(err(e));
            }
            writer.put(bytes.slice_ref(part));
        }
        writer.finish().await.map(|_| ()).map_err(err)
    }
}

impl Location {
    /// Removes, from a local folder, the temporary files that writes killed before they
    /// finished left behind: this crate's `.<name>.<pid>.<n>.tmp` and `object_store`'s staging
    /// files `<name>#<n>` (older versions of this crate wrote through it), once untouched for
    /// an hour (a write in progress on another machine sharing the folder is never that old)
    /// and, for this crate's, unless their process still runs here (Linux: `/proc`). Returns
    /// the names removed; nothing to do for other stores, whose writes leave no partial object.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let dir = tempfile::tempdir().unwrap();
    /// let old = dir.path().join(".model.json.4194305.0.tmp");
    /// std::fs::write(&old, b"{").unwrap();
    /// let hours_ago = SystemTime::now() - Duration::from_secs(7200);
    /// std::fs::File::options().write(true).open(&old).unwrap().set_modified(hours_ago).unwrap();
    /// std::fs::write(dir.path().join(".report.json.4194305.1.tmp"), b"{").unwrap();
    /// let loc = catclass_store::Location::local(dir.path(), false).unwrap();
    /// assert_eq!(loc.sweep_stale_temporaries(), [".model.json.4194305.0.tmp"]);
    /// ```
    pub fn sweep_stale_temporaries(&self) -> Vec<String> {
        let LocationKind::Local(folder) = &self.kind else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(folder) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let old = || {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() >= 3600)
            };
            let stale = match stale_kind(&name) {
                Some(Temporary::Ours { pid }) => !process_runs_here(pid) && old(),
                Some(Temporary::Staging) => old(),
                None => false,
            };
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if stale && is_file && std::fs::remove_file(entry.path()).is_ok() {
                removed.push(name);
            }
        }
        removed.sort();
        removed
    }
}

/// The temporary files writes leave while they run.
#[derive(Debug, PartialEq)]
enum Temporary {
    /// `.<name>.<pid>.<n>.tmp`, from [`write_durably`].
    Ours { pid: u32 },
    /// `<name>#<n>`, from object_store's local writes.
    Staging,
}

fn stale_kind(name: &str) -> Option<Temporary> {
    if let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) {
        let mut parts = inner.rsplitn(3, '.');
        let (n, pid, rest) = (parts.next()?, parts.next()?, parts.next()?);
        if !rest.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() {
            return pid.parse().ok().map(|pid| Temporary::Ours { pid });
        }
        return None;
    }
    let (rest, n) = name.rsplit_once('#')?;
    (!rest.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then_some(Temporary::Staging)
}

/// Whether process `pid` runs on this machine (where `/proc` does not tell: no).
fn process_runs_here(pid: u32) -> bool {
    pid == std::process::id() || std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// Writes `file` whole or not at all, and durably: into a hidden temporary file of the same
/// folder (`.<name>.<pid>.<n>.tmp`, never read as a feature file), synced, renamed over the
/// final name, then the folder synced so the rename survives a crash. A disk that fills up
/// gives an error and leaves the previous file (if any) as it was.
fn write_durably(file: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    write_durably_with(file, |f| f.write_all(bytes))
}

/// [`write_durably`] of what `write` writes into the temporary file.
fn write_durably_with(
    file: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        write(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // Folders cannot be opened for syncing on every platform; where they can, errors count.
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all()?;
    }
    Ok(())
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn temporary_names_are_recognised() {
        use super::{Temporary, stale_kind};
        assert_eq!(
            stale_kind(".a_1.jpg.json.42.7.tmp"),
            Some(Temporary::Ours { pid: 42 })
        );
        assert_eq!(stale_kind("model.json#3"), Some(Temporary::Staging));
        for other in [
            "a_1.jpg.json",
            ".tmp",
            "..1.2.tmp",
            ".a.x.1.tmp",
            "#3",
            "a#",
            "a#x",
            ".hidden",
        ] {
            assert_eq!(stale_kind(other), None, "{other}");
        }
    }
}
