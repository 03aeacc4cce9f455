//! `catclass model`: installs the default network (EfficientNet-Lite0) from a file or a URL
//! into the user's model folder, after checking it is the published file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use catclass_features::model::{DEFAULT_MODEL_SIZE, DefaultModel};
use catclass_features::{BackendError, DEFAULT_MODEL_FILE};
use catclass_store::{Location, StoreError, StoreOptions};

use crate::blocking::block_on;

/// Why the default network could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The source is not of the published size (checked before anything is read).
    #[error("{source_name}: {size} bytes, not the {DEFAULT_MODEL_SIZE} of efficientnet-lite0.onnx")]
    WrongSize {
        /// The file or URL.
        source_name: String,
        /// Its size.
        size: u64,
    },
    /// The source could not be reached or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A URL this command cannot read.
    #[error("{url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The bytes are not the published file, or could not be written.
    #[error(transparent)]
    Network(#[from] BackendError),
    /// No folder to install into.
    #[error("no folder to install into: set XDG_CACHE_HOME or HOME, or give a folder")]
    NoUserDir,
}

/// Installs the default network from `source` into `dir` (default: the user's model folder,
/// [`DefaultModel::user_dir`]) and returns the installed file's path.
///
/// `source` is a file (path or `file://`), a folder holding `efficientnet-lite0.onnx`, an
/// `s3://bucket/key` object or an `http(s)://` URL. Its size is checked before it is read and
/// its SHA-256 before it is written, so nothing but the published file is ever installed.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let junk = dir.path().join("efficientnet-lite0.onnx");
/// std::fs::write(&junk, b"not a network")?;
/// let err = catclass_app::network::install(junk.to_str().unwrap(), Some(dir.path()), &Default::default());
/// assert!(err.unwrap_err().to_string().contains("13 bytes"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install(
    source: &str,
    dir: Option<&Path>,
    opts: &StoreOptions,
) -> Result<PathBuf, InstallError> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => DefaultModel::user_dir().ok_or(InstallError::NoUserDir)?,
    };
    let (location, name) = object_of(source, opts)?;
    let bytes = block_on(async {
        let size = location.size(&name).await?;
        if size != DEFAULT_MODEL_SIZE {
            return Err(InstallError::WrongSize {
                source_name: location.describe(&name),
                size,
            });
        }
        Ok(location.get(&name).await?)
    })?;
    Ok(DefaultModel::install(&bytes, &dir)?)
}

/// The location and object name `source` points at.
fn object_of(source: &str, opts: &StoreOptions) -> Result<(Location, String), InstallError> {
    if source.starts_with("http://") || source.starts_with("https://") {
        return http_object(source);
    }
    let local = source.strip_prefix("file://").unwrap_or(source);
    if !source.contains("://") && Path::new(local).is_dir() {
        return Ok((
            crate::location::open(local, opts)?,
            DEFAULT_MODEL_FILE.to_string(),
        ));
    }
    let (parent, name) = source.rsplit_once('/').unwrap_or((".", source));
    let parent = if parent.is_empty() { "/" } else { parent };
    Ok((crate::location::open(parent, opts)?, name.to_string()))
}

/// An `http(s)://host/path/file` URL as a location (the host) and the object (the path).
fn http_object(url: &str) -> Result<(Location, String), InstallError> {
    let bad = |reason: String| InstallError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.is_empty() || path.is_empty() || path.ends_with('/') {
        return Err(bad(
            "expected http(s)://host/path/to/efficientnet-lite0.onnx".into(),
        ));
    }
    let base = format!("{scheme}://{host}");
    let store = object_store::http::HttpBuilder::new()
        .with_url(&base)
        .with_client_options(object_store::ClientOptions::new().with_allow_http(scheme == "http"))
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let (prefix, name) = path.rsplit_once('/').unwrap_or(("", path));
    Ok((
        Location::in_store(Arc::new(store), &base, prefix),
        name.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
    }

    #[test]
    fn installs_from_a_file_or_its_folder_and_refuses_others() {
        let out = tempfile::tempdir().unwrap();
        let opts = StoreOptions::default();
        let file = repo_models().join(DEFAULT_MODEL_FILE);
        let installed = install(file.to_str().unwrap(), Some(out.path()), &opts).unwrap();
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(&file).unwrap()
        );
        let again = tempfile::tempdir().unwrap();
        let folder = repo_models().display().to_string();
        install(&folder, Some(again.path()), &opts).unwrap();
        assert!(again.path().join(DEFAULT_MODEL_FILE).is_file());
        // Another ONNX file of another size is refused before it is read.
        let other = tempfile::tempdir().unwrap();
        let junk = other.path().join("x.onnx");
        std::fs::write(&junk, vec![0u8; 1000]).unwrap();
        let err = install(junk.to_str().unwrap(), Some(other.path()), &opts).unwrap_err();
        assert!(
            matches!(err, InstallError::WrongSize { size: 1000, .. }),
            "{err}"
        );
        assert!(!other.path().join(DEFAULT_MODEL_FILE).exists());
        let err = install("https://", Some(other.path()), &opts).unwrap_err();
        assert!(matches!(err, InstallError::BadUrl { .. }), "{err}");
    }
}
