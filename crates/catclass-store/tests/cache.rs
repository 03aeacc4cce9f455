//! The feature cache: used only while the folder lists the very files it was packed from.

use catclass_store::{
    CacheUse, FeatureCache, FeatureCatalog, FeatureSet, Location, Values, feature_json,
};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

fn folder(path: &Path) -> Location {
    Location::local(path, false).unwrap()
}

fn write_row(dir: &Path, name: &str, values: &[f64]) {
    std::fs::write(dir.join(name), feature_json::to_json(values)).unwrap();
}

/// Reads every row through the cache: what the cache did, and the rows.
fn read_cached(dir: &Path, cache: &FeatureCache) -> (CacheUse, FeatureSet) {
    block_on(async {
        let catalog = FeatureCatalog::list(&folder(dir)).await.unwrap();
        let (catalog, used) = catalog.cached(cache, 4, &|_| {}).await.unwrap();
        let set = catalog.read(catalog.entries(), 4, &|_| {}).await.unwrap();
        (used, set)
    })
}

fn read_json(dir: &Path) -> FeatureSet {
    block_on(async {
        let catalog = FeatureCatalog::list(&folder(dir)).await.unwrap();
        catalog.read(catalog.entries(), 4, &|_| {}).await.unwrap()
    })
}

fn setup() -> (tempfile::TempDir, tempfile::TempDir, FeatureCache) {
    let data = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let class = if i % 2 == 0 { "cat" } else { "dog" };
        let values: Vec<f64> = (0..5)
            .map(|j| f64::from((i * 5 + j) as f32 * 0.37))
            .collect();
        write_row(data.path(), &format!("{class}_{i}.jpg.json"), &values);
    }
    let out = tempfile::tempdir().unwrap();
    let cache = FeatureCache::new(folder(out.path()), "pets.safetensors");
    (data, out, cache)
}

#[test]
fn written_once_then_read_with_the_same_rows() {
    let (data, out, cache) = setup();
    let (used, first) = read_cached(data.path(), &cache);
    assert_eq!(used, CacheUse::Written);
    assert!(out.path().join("pets.safetensors").is_file());
    assert_eq!(first, read_json(data.path()));
    let (used, second) = read_cached(data.path(), &cache);
    assert_eq!(used, CacheUse::Fresh);
    assert_eq!(second, first);
    // The catalog says where its rows came from.
    block_on(async {
        let catalog = FeatureCatalog::list(&folder(data.path())).await.unwrap();
        let (catalog, _) = catalog.cached(&cache, 4, &|_| {}).await.unwrap();
        assert!(
            catalog.source_name().starts_with("cache "),
            "{}",
            catalog.source_name()
        );
        assert!(catalog.source_name().ends_with("pets.safetensors"));
    });
}

#[test]
fn any_change_to_the_folder_makes_it_stale() {
    let (data, _out, cache) = setup();
    let dir = data.path();
    assert_eq!(read_cached(dir, &cache).0, CacheUse::Written);

    // Rewritten with the same size, and its modification time put back: still fresh (the
    // cache is keyed on names, sizes and times, as documented), so then touch it.
    let file = dir.join("cat_0.jpg.json");
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replacen("0.0", "9.0", 1);
    assert_eq!(changed.len(), text.len());
    std::fs::write(&file, &changed).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(before)
        .unwrap();
    assert_eq!(read_cached(dir, &cache).0, CacheUse::Fresh);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(before + Duration::from_secs(1))
        .unwrap();
    let (used, set) = read_cached(dir, &cache);
    assert_eq!(used, CacheUse::Written);
    assert_eq!(set, read_json(dir));
    match &set.values {
        Values::F32(v) => assert_eq!(v[0], 9.0),
        other => panic!("{other:?}"),
    }
    assert_eq!(read_cached(dir, &cache).0, CacheUse::Fresh);

    // A file added, then one removed.
    write_row(dir, "dog_9.jpg.json", &[1.0, 2.0, 3.0, 4.0, 5.0]);
    let (used, set) = read_cached(dir, &cache);
    assert_eq!((used, set.rows()), (CacheUse::Written, 7));
    std::fs::remove_file(dir.join("dog_1.jpg.json")).unwrap();
    let (used, set) = read_cached(dir, &cache);
    assert_eq!((used, set.rows()), (CacheUse::Written, 6));
    assert_eq!(set, read_json(dir));
    assert_eq!(read_cached(dir, &cache).0, CacheUse::Fresh);

    // A file grown (a value appended): a new size.
    write_row(dir, "cat_2.jpg.json", &[1.0, 2.0, 3.0, 4.0, 5.5]);
    std::fs::File::options()
        .write(true)
        .open(dir.join("cat_2.jpg.json"))
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1))
        .unwrap();
    let (used, set) = read_cached(dir, &cache);
    assert_eq!(used, CacheUse::Written);
    assert_eq!(set, read_json(dir));
}

#[test]
fn a_damaged_or_foreign_cache_is_never_read() {
    let (data, out, cache) = setup();
    let path = out.path().join("pets.safetensors");
    let want = read_json(data.path());
    for damage in [
        b"not a shard at all".to_vec(),
        Vec::new(),
        // A valid shard of other rows.
        catclass_store::shard::encode(&["cat_0.jpg.json".to_string()], 5, &[1.0; 5], None).unwrap(),
    ] {
        std::fs::write(&path, &damage).unwrap();
        let (used, set) = read_cached(data.path(), &cache);
        assert_eq!(used, CacheUse::Written);
        assert_eq!(set, want);
        assert_eq!(read_cached(data.path(), &cache).0, CacheUse::Fresh);
    }
    // Cut short after it was written: the header no longer fits the size.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    let (used, set) = read_cached(data.path(), &cache);
    assert_eq!((used, set), (CacheUse::Written, want));
}

#[test]
fn values_float32_cannot_hold_are_not_cached() {
    let (data, out, cache) = setup();
    write_row(data.path(), "cat_7.jpg.json", &[0.1, 0.2, 0.3, 0.4, 0.5]);
    let (used, set) = read_cached(data.path(), &cache);
    assert!(matches!(used, CacheUse::NotWritten { .. }), "{used:?}");
    assert!(!out.path().join("pets.safetensors").exists());
    assert!(matches!(set.values, Values::F64(_)));
    assert_eq!(set, read_json(data.path()));
}

#[test]
fn a_folder_of_a_shard_needs_no_cache() {
    let (data, out, cache) = setup();
    let set = read_json(data.path());
    let values = match &set.values {
        Values::F32(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    block_on(catclass_store::shard::write(
        &folder(data.path()),
        catclass_store::SHARD_FILE,
        &set.names,
        set.dim,
        &values,
        None,
    ))
    .unwrap();
    let (used, again) = read_cached(data.path(), &cache);
    assert_eq!(used, CacheUse::NotNeeded);
    assert_eq!(again, set);
    assert!(!out.path().join("pets.safetensors").exists());
}
