//! Reading folders of the seed's feature files: contents, order, and every refusal named.

mod common;
use catclass_store::{FeatureCatalog, Location, StoreError, StoreOptions, Values};
use common::block_on;
use std::path::Path;

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

fn read_all(spec: &str) -> Result<catclass_store::FeatureSet, StoreError> {
    block_on(async {
        let loc = common::open(spec, &StoreOptions::default())?;
        let cat = FeatureCatalog::list(&loc).await?;
        cat.read(cat.entries(), 8, &|_| {}).await
    })
}

#[test]
fn reads_a_folder_sorted_by_name_with_classes_from_names() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "wheaten_terrier_12.jpg.json",
        "[0.5, 0.0, 1.25]",
    );
    write(dir.path(), "Abyssinian_1.jpg.json", "[1.0, 2.0, 3.0]\n");
    write(dir.path(), "wheaten_terrier_2.jpg.json", "[0.1, 0.2, 0.3]");
    write(dir.path(), "notes.txt", "not a feature file");
    let set = read_all(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(
        set.names,
        [
            "Abyssinian_1.jpg.json",
            "wheaten_terrier_12.jpg.json",
            "wheaten_terrier_2.jpg.json"
        ]
    );
    assert_eq!(
        set.classes,
        ["Abyssinian", "wheaten_terrier", "wheaten_terrier"]
    );
    assert_eq!(set.dim, 3);
    // 0.1 is not a float32 value: the matrix keeps doubles and every value exactly.
    match &set.values {
        Values::F64(v) => assert_eq!(v[6..], [0.1, 0.2, 0.3]),
        other => panic!("expected f64 storage, got {other:?}"),
    }
}

#[test]
fn float32_values_are_stored_as_f32() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a_1.json", "[0.5, 1.2345678806304932]");
    write(dir.path(), "b_1.json", "[0.0, 3.0]");
    let set = read_all(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(set.values, Values::F32(vec![0.5, 1.234_567_9, 0.0, 3.0]));
}

fn err_of(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (n, b) in files {
        write(dir.path(), n, b);
    }
    read_all(dir.path().to_str().unwrap())
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_files_are_named_with_the_problem() {
    let e = err_of(&[("a_1.json", "[1.0, 2.0]"), ("a_2.json", "[1.0, 2.0")]);
    assert!(e.contains("a_2.json") && e.contains("truncated"), "{e}");
    let e = err_of(&[("a_1.json", "[1.0, NaN]")]);
    assert!(e.contains("a_1.json") && e.contains("NaN"), "{e}");
    let e = err_of(&[("a_1.json", "[1.0, Infinity]")]);
    assert!(e.contains("Infinity"), "{e}");
    let e = err_of(&[("a_1.json", "[1.0, \"x\"]")]);
    assert!(e.contains("a_1.json") && e.contains("not a number"), "{e}");
    let e = err_of(&[("a_1.json", "[1.0, 2.0]"), ("b_1.json", "[1.0, 2.0, 3.0]")]);
    assert!(
        e.contains("b_1.json") && e.contains("3 values") && e.contains("a_1.json"),
        "{e}"
    );
    let e = err_of(&[("a_1.json", "")]);
    assert!(e.contains("a_1.json") && e.contains("empty"), "{e}");
    let e = err_of(&[("nounderscore.json", "[1.0]")]);
    assert!(
        e.contains("nounderscore.json") && e.contains("class"),
        "{e}"
    );
}

#[test]
fn empty_and_missing_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_all(dir.path().to_str().unwrap()).unwrap_err();
    assert!(matches!(e, StoreError::NoFeatureFiles { .. }), "{e}");
    let missing = dir.path().join("nope");
    let e = read_all(missing.to_str().unwrap()).unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("nope"));
}

#[test]
fn unknown_class_lists_the_known_ones_and_matches_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "wheaten_terrier_1.json", "[1.0]");
    write(dir.path(), "yorkshire_terrier_1.json", "[1.0]");
    let cat = block_on(async {
        FeatureCatalog::list(&common::open(
            dir.path().to_str().unwrap(),
            &StoreOptions::default(),
        )?)
        .await
    })
    .unwrap();
    assert!(cat.require_class("wheaten_terrier").is_ok());
    // A substring of a class is not that class (the seed's bug).
    let e = cat.require_class("terrier").unwrap_err().to_string();
    assert!(
        e.contains("\"terrier\"") && e.contains("wheaten_terrier, yorkshire_terrier"),
        "{e}"
    );
}

#[test]
fn any_object_store_works_like_a_folder() {
    block_on(async {
        let store = std::sync::Arc::new(object_store::memory::InMemory::new());
        let loc = Location::in_store(store, "memory", "features-test/run1");
        loc.put("beagle_1.jpg.json", "[1.0, 2.0]").await.unwrap();
        loc.put("boxer_1.jpg.json", "[3.0, 4.0]").await.unwrap();
        let cat = FeatureCatalog::list(&loc).await.unwrap();
        let set = cat.read(cat.entries(), 4, &|_| {}).await.unwrap();
        assert_eq!(set.classes, ["beagle", "boxer"]);
        assert_eq!(set.values, Values::F32(vec![1.0, 2.0, 3.0, 4.0]));
    });
}

/// A local folder with an entry that cannot be listed (a name that is not UTF-8): the others
/// are listed and read, the entry is reported; `list` refuses it by name.
#[test]
fn an_unlistable_name_is_reported_and_the_rest_listed() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cat_1.jpg.json"), "[1.0, 0.0]").unwrap();
    std::fs::write(dir.path().join("dog_1.jpg.json"), "[0.0, 1.0]").unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"\xff\xfe.json");
    std::fs::write(dir.path().join(bad), "[0.5, 0.5]").unwrap();
    let loc = catclass_store::Location::local(dir.path(), false).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listing = rt.block_on(loc.list_skipping()).unwrap();
    let names: Vec<String> = listing.objects.iter().map(|m| loc.name_of(m)).collect();
    assert_eq!(names, ["cat_1.jpg.json", "dog_1.jpg.json"]);
    assert_eq!(listing.skipped.len(), 1);
    assert!(
        listing.skipped[0].contains("not UTF-8"),
        "{:?}",
        listing.skipped
    );
    let catalog = rt
        .block_on(catclass_store::FeatureCatalog::list(&loc))
        .unwrap();
    assert_eq!(catalog.entries().len(), 2);
    assert_eq!(catalog.skipped().len(), 1);
    let err = rt.block_on(loc.list()).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}
