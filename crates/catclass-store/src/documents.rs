//! JSON and text documents written atomically and read with errors naming the file.

use crate::error::{Result, StoreError};
use crate::location::Location;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Writes `value` as pretty JSON to `name` in `loc` (atomic).
pub async fn write_json<T: Serialize>(loc: &Location, name: &str, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Document {
        file: loc.describe(name),
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    loc.put(name, bytes).await
}

/// The largest JSON document [`read_json`] reads (manifests, reports): 64 MiB.
pub const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// Reads `name` in `loc` as JSON of type `T` (at most [`MAX_DOCUMENT_BYTES`]).
pub async fn read_json<T: DeserializeOwned>(loc: &Location, name: &str) -> Result<T> {
    let bytes = loc
        .get_at_most(name, MAX_DOCUMENT_BYTES, "a JSON document")
        .await?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Document {
        file: loc.describe(name),
        reason: e.to_string(),
    })
}

/// Writes text to `name` in `loc` (atomic).
pub async fn write_text(loc: &Location, name: &str, text: &str) -> Result<()> {
    loc.put(name, text.as_bytes().to_vec()).await
}

/// Splits `path` into its folder (a [`Location`] spec) and file name: `s3://b/x/model.json`
/// -> (`s3://b/x`, `model.json`), `model.json` -> (`.`, `model.json`).
pub fn split_file(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((dir, file)) if !dir.is_empty() && !dir.ends_with(':') && !dir.ends_with("//") => {
            (dir.to_string(), file.to_string())
        }
        Some(("", file)) => ("/".to_string(), file.to_string()),
        _ => (".".to_string(), trimmed.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::split_file;

    #[test]
    fn splits_paths_and_urls() {
        assert_eq!(
            split_file("s3://b/x/model.json"),
            ("s3://b/x".into(), "model.json".into())
        );
        assert_eq!(
            split_file("out/model.json"),
            ("out".into(), "model.json".into())
        );
        assert_eq!(split_file("model.json"), (".".into(), "model.json".into()));
        assert_eq!(split_file("/model.json"), ("/".into(), "model.json".into()));
    }
}
