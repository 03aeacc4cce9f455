//! Feature shards: many feature vectors in one `safetensors` file that `train` reads much
//! faster than thousands of JSON files, with ranged reads of just the rows it needs.
//!
//! Layout: one tensor `features`, float32 (little-endian), shape `[rows, dim]`, row `i` being
//! the feature file `names[i]` of the seed's format. The `safetensors` metadata holds
//! `format` = [`SHARD_FORMAT`], `version` = [`SHARD_VERSION`], `names` (a JSON array of the
//! feature file names, e.g. `wheaten_terrier_12.jpg.json`, whose classes come from the names as
//! for the JSON files) and, when known, `feature_model` (a JSON [`FeatureModel`]: the network,
//! layer and preprocessing that produced the features).

use crate::error::{Result, StoreError};
use crate::location::Location;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// The file name `catclass extract` gives the shard in its output folder.
pub const SHARD_FILE: &str = "features.safetensors";
/// The `format` metadata value of a shard.
pub const SHARD_FORMAT: &str = "catclass-features-shard";
/// The shard version this code writes and reads.
pub const SHARD_VERSION: &str = "1";
/// The tensor holding the rows.
pub const TENSOR_NAME: &str = "features";
/// Bytes per ranged read of rows (larger runs are split, so reads proceed in parallel).
pub const RANGE_BYTES: u64 = 4 << 20;
/// Largest header accepted (names of millions of files fit).
const MAX_HEADER: u64 = 512 << 20;

pub use catclass_features::FeatureModel;

/// A shard's description, read from its header alone.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardHeader {
    /// Feature file name of each row.
    pub names: Vec<String>,
    /// Floats per row.
    pub dim: usize,
    /// Byte offset of row 0 in the file.
    pub data_start: u64,
    /// What produced the features, when recorded.
    pub feature_model: Option<FeatureModel>,
    /// For a cache of a folder's JSON files: the fingerprint of the files it was packed from
    /// (`crate::cache`), `None` for a shard written as the features themselves.
    pub source: Option<String>,
}

impl ShardHeader {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.names.len()
    }

    /// Byte range of rows `rows` in the file.
    fn byte_range(&self, rows: Range<usize>) -> Range<u64> {
        let row_bytes = (self.dim * 4) as u64;
        self.data_start + rows.start as u64 * row_bytes
            ..self.data_start + rows.end as u64 * row_bytes
    }
}

fn bad(file: &str, problem: impl Into<String>) -> StoreError {
    StoreError::BadShard {
        file: file.to_string(),
        problem: problem.into(),
    }
}

/// Encodes rows (`names.len() x dim` floats in `values`) as a shard.
pub fn encode(
    names: &[String],
    dim: usize,
    values: &[f32],
    feature_model: Option<&FeatureModel>,
) -> std::result::Result<Vec<u8>, String> {
    if values.len() != names.len() * dim {
        return Err(format!(
            "{} values are not {} rows of {dim}",
            values.len(),
            names.len()
        ));
    }
    let mut out = header_bytes(names, dim, values.len(), feature_model, None)?;
    out.reserve(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// The bytes before the rows: the header's length, then the header (padded so the rows start
/// 8-byte aligned) for `values` floats.
fn header_bytes(
    names: &[String],
    dim: usize,
    values: usize,
    feature_model: Option<&FeatureModel>,
    source: Option<&str>,
) -> std::result::Result<Vec<u8>, String> {
    // The header is written here (not by the `safetensors` crate, whose metadata map has no
    // fixed order) so that the same rows always give the same bytes; the tests check that
    // `safetensors` reads it.
    let mut meta = BTreeMap::new();
    meta.insert("format", SHARD_FORMAT.to_string());
    meta.insert("version", SHARD_VERSION.to_string());
    meta.insert(
        "names",
        serde_json::to_string(names).map_err(|e| e.to_string())?,
    );
    if let Some(m) = feature_model {
        meta.insert(
            "feature_model",
            serde_json::to_string(m).map_err(|e| e.to_string())?,
        );
    }
    if let Some(source) = source {
        meta.insert("source", source.to_string());
    }
    let data_bytes = values * 4;
    let header = serde_json::json!({
        "__metadata__": meta,
        TENSOR_NAME: {
            "dtype": "F32",
            "shape": [names.len(), dim],
            "data_offsets": [0, data_bytes],
        },
    });
    let mut json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    // Row data starts 8-byte aligned, as safetensors writes it.
    while (8 + json.len()) % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// Writes a shard as object `name` of `out` (atomically, like every write), streaming its
/// rows: the only copy held is a few chunks of [`STREAM_CHUNK_BYTES`].
pub async fn write(
    out: &Location,
    name: &str,
    names: &[String],
    dim: usize,
    values: &[f32],
    feature_model: Option<&FeatureModel>,
) -> Result<()> {
    write_with_source(out, name, names, dim, values, feature_model, None).await
}

/// [`write`], recording the fingerprint of the files the rows were read from (a cache).
pub(crate) async fn write_with_source(
    out: &Location,
    name: &str,
    names: &[String],
    dim: usize,
    values: &[f32],
    feature_model: Option<&FeatureModel>,
    source: Option<&str>,
) -> Result<()> {
    if values.len() != names.len() * dim {
        return Err(bad(
            &out.describe(name),
            format!(
                "{} values are not {} rows of {dim}",
                values.len(),
                names.len()
            ),
        ));
    }
    // The header alone: the bytes `encode` writes before the rows.
    let header = header_bytes(names, dim, values.len(), feature_model, source)
        .map_err(|p| bad(&out.describe(name), p))?;
    let size = header.len() as u64 + values.len() as u64 * 4;
    let rows = values.chunks(STREAM_CHUNK_BYTES / 4).map(|chunk| {
        let mut b = Vec::with_capacity(chunk.len() * 4);
        for v in chunk {
            b.extend_from_slice(&v.to_le_bytes());
        }
        bytes::Bytes::from(b)
    });
    let chunks = std::iter::once(bytes::Bytes::from(header)).chain(rows);
    out.put_chunks(name, size, futures::stream::iter(chunks))
        .await
}

/// Bytes of rows per chunk when a shard is written.
pub const STREAM_CHUNK_BYTES: usize = 4 << 20;

#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// Parses a header (the JSON after the 8-byte length) of a file of `size` bytes.
fn parse_header(file: &str, json: &[u8], size: u64) -> Result<ShardHeader> {
    let mut doc: HashMap<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(|e| {
            bad(
                file,
                format!("header is not a safetensors JSON header: {e}"),
            )
        })?;
    let meta: HashMap<String, String> = match doc.remove("__metadata__") {
        Some(m) => serde_json::from_value(m)
            .map_err(|e| bad(file, format!("__metadata__ is not a map of strings: {e}")))?,
        None => return Err(bad(file, "no __metadata__: not a catclass feature shard")),
    };
    if meta.get("format").map(String::as_str) != Some(SHARD_FORMAT) {
        return Err(bad(
            file,
            format!(
                "metadata format is {:?}, expected {SHARD_FORMAT:?}",
                meta.get("format")
            ),
        ));
    }
    if meta.get("version").map(String::as_str) != Some(SHARD_VERSION) {
        return Err(bad(
            file,
            format!(
                "shard version {:?} is not supported (this catclass reads version {SHARD_VERSION})",
                meta.get("version")
            ),
        ));
    }
    let names: Vec<String> = serde_json::from_str(
        meta.get("names")
            .ok_or_else(|| bad(file, "metadata has no `names`"))?,
    )
    .map_err(|e| {
        bad(
            file,
            format!("metadata `names` is not a JSON array of strings: {e}"),
        )
    })?;
    let feature_model = match meta.get("feature_model") {
        Some(s) => Some(
            serde_json::from_str(s)
                .map_err(|e| bad(file, format!("metadata `feature_model`: {e}")))?,
        ),
        None => None,
    };
    let info = doc
        .remove(TENSOR_NAME)
        .ok_or_else(|| bad(file, format!("no tensor named {TENSOR_NAME:?}")))?;
    if let Some(other) = doc.keys().next() {
        return Err(bad(file, format!("unexpected tensor {other:?}")));
    }
    let info: TensorInfo = serde_json::from_value(info)
        .map_err(|e| bad(file, format!("tensor {TENSOR_NAME:?}: {e}")))?;
    if info.dtype != "F32" {
        return Err(bad(file, format!("dtype {} (expected F32)", info.dtype)));
    }
    let [rows, dim] = info.shape[..] else {
        return Err(bad(
            file,
            format!("shape {:?} is not [rows, dim]", info.shape),
        ));
    };
    if rows != names.len() {
        return Err(bad(file, format!("{rows} rows but {} names", names.len())));
    }
    if dim == 0 {
        return Err(bad(file, "rows of 0 values"));
    }
    let data_bytes = (rows as u64)
        .checked_mul(dim as u64)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| bad(file, "shape overflows"))?;
    if info.data_offsets != [0, data_bytes] {
        return Err(bad(
            file,
            format!(
                "data offsets {:?}, expected [0, {data_bytes}]",
                info.data_offsets
            ),
        ));
    }
    let data_start = 8 + json.len() as u64;
    let announced = data_start
        .checked_add(data_bytes)
        .ok_or_else(|| bad(file, "shape overflows"))?;
    if announced != size {
        return Err(bad(
            file,
            format!(
                "file is {size} bytes, header announces {announced} (truncated or trailing data)"
            ),
        ));
    }
    Ok(ShardHeader {
        names,
        dim,
        data_start,
        feature_model,
        source: meta.get("source").cloned(),
    })
}

/// The header length of a file of `size` bytes that starts with `first8`.
fn header_len(file: &str, first8: &[u8], size: u64) -> Result<u64> {
    if size < 8 {
        return Err(bad(
            file,
            format!("{size} bytes: too short for a safetensors file"),
        ));
    }
    let len = u64::from_le_bytes(first8.try_into().map_err(|_| {
        bad(
            file,
            format!("{} bytes read of the 8-byte header length", first8.len()),
        )
    })?);
    if len > MAX_HEADER || 8 + len > size {
        return Err(bad(
            file,
            format!("header length {len} does not fit a file of {size} bytes"),
        ));
    }
    Ok(len)
}

/// Reads the header of shard `name` in `loc` with two ranged reads (length, then JSON).
pub async fn read_header(loc: &Location, name: &str) -> Result<ShardHeader> {
    let file = loc.describe(name);
    let size = loc.size(name).await?;
    let first8 = if size < 8 {
        bytes::Bytes::new()
    } else {
        loc.get_range(name, 0..8).await?
    };
    let len = header_len(&file, &first8, size)?;
    let json = loc.get_range(name, 8..8 + len).await?;
    parse_header(&file, &json, size)
}

/// Decodes a whole shard held in memory, with the checks [`read_header`] and [`read_rows`]
/// make: the header, then every row (finite values only). `file` names it in errors.
///
/// ```
/// use catclass_store::shard::{decode, encode};
/// let bytes = encode(&["cat_1.jpg.json".into()], 2, &[0.5, 1.0], None).unwrap();
/// let (header, values) = decode("mem/f.safetensors", &bytes)?;
/// assert_eq!((header.rows(), header.dim, values), (1, 2, vec![0.5, 1.0]));
/// assert!(decode("mem/f.safetensors", &bytes[..bytes.len() - 1]).is_err());
/// # Ok::<(), catclass_store::StoreError>(())
/// ```
pub fn decode(file: &str, bytes: &[u8]) -> Result<(ShardHeader, Vec<f32>)> {
    let size = bytes.len() as u64;
    let len = header_len(file, bytes.get(..8).unwrap_or(bytes), size)?;
    let header = parse_header(file, &bytes[8..8 + len as usize], size)?;
    let values: Vec<f32> = bytes[header.data_start as usize..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    let rows: Vec<usize> = (0..header.rows()).collect();
    check_finite(file, &header, &rows, &values)?;
    Ok((header, values))
}

/// Refuses a NaN or infinite value of `values` (rows `rows` of the shard), naming its row.
fn check_finite(file: &str, header: &ShardHeader, rows: &[usize], values: &[f32]) -> Result<()> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let row = rows[i / header.dim];
        return Err(bad(
            file,
            format!(
                "row {row} ({}) value {} is {}",
                header.names[row],
                i % header.dim,
                values[i]
            ),
        ));
    }
    Ok(())
}

/// Row runs of `rows` (consecutive indices merged, then split to at most [`RANGE_BYTES`]).
fn runs(rows: &[usize], dim: usize) -> Vec<Range<usize>> {
    let per_run = ((RANGE_BYTES as usize) / (dim * 4)).max(1);
    let mut out: Vec<Range<usize>> = Vec::new();
    for &r in rows {
        match out.last_mut() {
            Some(last) if last.end == r && last.len() < per_run => last.end += 1,
            _ => out.push(r..r + 1),
        }
    }
    out
}

/// Reads rows `rows` (in that order) of shard `name`: consecutive rows are read together,
/// with at most `concurrency` ranged reads in flight.
pub async fn read_rows(
    loc: &Location,
    name: &str,
    header: &ShardHeader,
    rows: &[usize],
    concurrency: usize,
) -> Result<Vec<f32>> {
    let file = loc.describe(name);
    if let Some(&r) = rows.iter().find(|&&r| r >= header.rows()) {
        return Err(bad(
            &file,
            format!("row {r} asked of {} rows", header.rows()),
        ));
    }
    let chunks: Vec<bytes::Bytes> = futures::stream::iter(runs(rows, header.dim))
        .map(|run| {
            let loc = loc.clone();
            let name = name.to_string();
            let range = header.byte_range(run);
            async move { loc.get_range(&name, range).await }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut values = Vec::with_capacity(rows.len() * header.dim);
    for chunk in &chunks {
        values.extend(
            chunk
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))),
        );
    }
    if values.len() != rows.len() * header.dim {
        return Err(bad(&file, "short read: the file changed while being read"));
    }
    check_finite(&file, header, rows, &values)?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_consecutive_rows_and_split_long_ones() {
        assert_eq!(runs(&[0, 1, 2, 5, 6, 3], 4), vec![0..3, 5..7, 3..4]);
        // 4 MiB / (1 Mi floats * 4 bytes) = 1 row per run.
        assert_eq!(runs(&[0, 1], 1 << 20), vec![0..1, 1..2]);
    }

    #[test]
    fn header_problems_are_named() {
        let names = vec!["a_1.jpg.json".to_string()];
        let bytes = encode(&names, 2, &[1.0, 2.0], None).unwrap();
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let json = &bytes[8..8 + len];
        let h = parse_header("f", json, bytes.len() as u64).unwrap();
        assert_eq!((h.rows(), h.dim, h.data_start), (1, 2, 8 + len as u64));
        let err = parse_header("f", json, bytes.len() as u64 - 1).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = parse_header("f", b"{\"x\":1}", 10).unwrap_err();
        assert!(err.to_string().contains("__metadata__"), "{err}");
        assert!(encode(&names, 3, &[1.0, 2.0], None).is_err());
    }

    #[test]
    fn shards_are_deterministic_and_read_by_the_safetensors_crate() {
        let names: Vec<String> = (0..3).map(|i| format!("c_{i}.jpg.json")).collect();
        let values: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
        let model = FeatureModel {
            backend: "tract".into(),
            model: "m.onnx".into(),
            model_sha256: "ab".into(),
            layer: "fc2".into(),
            preset: "keras-vgg16".into(),
            dim: 2,
        };
        let a = encode(&names, 2, &values, Some(&model)).unwrap();
        assert_eq!(a, encode(&names, 2, &values, Some(&model)).unwrap());
        let st = safetensors::SafeTensors::deserialize(&a).unwrap();
        let t = st.tensor(TENSOR_NAME).unwrap();
        assert_eq!(t.shape(), [3, 2]);
        assert_eq!(t.dtype(), safetensors::Dtype::F32);
        let back: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(back, values);
        let (_, meta) = safetensors::SafeTensors::read_metadata(&a).unwrap();
        let info = meta.metadata().as_ref().unwrap();
        assert_eq!(info["format"], SHARD_FORMAT);
        let len = u64::from_le_bytes(a[..8].try_into().unwrap()) as usize;
        let h = parse_header("f", &a[8..8 + len], a.len() as u64).unwrap();
        assert_eq!(h.feature_model, Some(model));
        assert_eq!(h.names, names);
    }
}
