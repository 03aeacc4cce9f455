//! Location strings, as the command line takes them: a path, `file://path` or
//! `s3://bucket/prefix`. The library underneath takes stores ([`Location::in_store`]).

use catclass_store::{Location, StoreError, StoreOptions};

fn parse(spec: &str, opts: &StoreOptions, create: bool) -> Result<Location, StoreError> {
    let invalid = |reason: &str| StoreError::InvalidLocation {
        location: spec.to_string(),
        reason: reason.to_string(),
    };
    if spec.is_empty() {
        return Err(invalid("empty location"));
    }
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("no bucket name after s3://"));
        }
        return Location::s3(bucket, prefix, opts);
    }
    if spec.contains("://") && !spec.starts_with("file://") {
        return Err(invalid("unsupported scheme (use a path, file:// or s3://)"));
    }
    Location::local(spec.strip_prefix("file://").unwrap_or(spec), create)
}

/// Opens an existing location for reading (a local folder must exist).
///
/// ```
/// let err = catclass_app::location::open("ftp://host/x", &Default::default()).unwrap_err();
/// assert!(err.to_string().contains("unsupported scheme"));
/// ```
pub fn open(spec: &str, opts: &StoreOptions) -> Result<Location, StoreError> {
    parse(spec, opts, false)
}

/// Opens a location for writing; a local folder is created if missing, and the temporary
/// files of writes killed there before are removed ([`Location::sweep_stale_temporaries`]).
pub fn create(spec: &str, opts: &StoreOptions) -> Result<Location, StoreError> {
    let loc = parse(spec, opts, true)?;
    loc.sweep_stale_temporaries();
    Ok(loc)
}
