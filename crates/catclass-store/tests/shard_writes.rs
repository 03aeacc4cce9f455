//! Shards are written streaming (a few chunks held, multipart above 16 MiB on object stores):
//! the bytes are exactly `shard::encode`'s, wherever they go.

use catclass_store::{Location, SHARD_FILE, shard};
use object_store::ObjectStoreExt;
use std::sync::Arc;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

/// `rows` rows of `dim` values, named like the seed's files.
fn rows(rows: usize, dim: usize) -> (Vec<String>, Vec<f32>) {
    let names = (0..rows).map(|i| format!("breed_{i}.jpg.json")).collect();
    let values = (0..rows * dim).map(|i| (i % 1013) as f32 * 0.125).collect();
    (names, values)
}

#[test]
fn a_streamed_shard_is_the_encoded_bytes_locally_and_in_an_object_store() {
    // 5 MiB (two chunks and a bit, one PUT) and 20 MiB (a multipart upload of two parts).
    for (n, dim) in [(320, 4096), (1280, 4096)] {
        let (names, values) = rows(n, dim);
        let want = shard::encode(&names, dim, &values, None).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let local = Location::local(dir.path(), false).unwrap();
        block_on(shard::write(&local, SHARD_FILE, &names, dim, &values, None)).unwrap();
        assert!(std::fs::read(dir.path().join(SHARD_FILE)).unwrap() == want);
        // Nothing else left in the folder (the temporary file was renamed).
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let store = Arc::new(object_store::memory::InMemory::new());
        let remote = Location::in_store(store.clone(), "mem", "f");
        block_on(shard::write(
            &remote, SHARD_FILE, &names, dim, &values, None,
        ))
        .unwrap();
        let got = block_on(async {
            store
                .get(&object_store::path::Path::from(format!("f/{SHARD_FILE}")))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        });
        assert!(got.as_ref() == want.as_slice(), "{n} rows in memory");
    }
}

#[test]
fn rows_of_the_wrong_length_are_refused_before_anything_is_written() {
    let (names, values) = rows(3, 4);
    let dir = tempfile::tempdir().unwrap();
    let local = Location::local(dir.path(), false).unwrap();
    let err = block_on(shard::write(&local, SHARD_FILE, &names, 5, &values, None)).unwrap_err();
    assert!(
        err.to_string().contains("12 values are not 3 rows of 5"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
