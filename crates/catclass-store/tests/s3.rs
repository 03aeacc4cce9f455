//! The store against a real S3 server (s3s-fs, signatures checked) on loopback: same data as a
//! local folder, clear one-line errors, a server lost mid-run, and a flaky network.

mod common;
use catclass_store::documents::{read_json, write_json};
use catclass_store::{
    FeatureCatalog, FeatureFormat, FeatureSet, Location, S3FailureKind, S3Options, SHARD_FILE,
    StoreError, StoreOptions, Values, shard,
};
use catclass_testkit::{ACCESS_KEY, Fault, FaultPlan, FaultProxy, REGION, S3Server, SECRET_KEY};
use common::{assert_one_line, block_on, feature_files, local_set, read_all};

/// The generator seed of this file's feature files.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
use futures::{StreamExt, TryStreamExt};
use std::sync::Mutex;
use std::time::Duration;

fn write_local(dir: &std::path::Path, files: &[(String, String)]) {
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

async fn upload(loc: &Location, files: &[(String, String)]) {
    futures::stream::iter(files)
        .map(|(name, body)| loc.put(name, body.clone().into_bytes()))
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
}

/// Options that reach `endpoint` with the server's credentials, short retries and timeouts.
fn options(endpoint: String, secret: &str) -> StoreOptions {
    let base = StoreOptions::s3_endpoint(&endpoint, ACCESS_KEY, secret, REGION);
    StoreOptions {
        concurrency: 16,
        s3: S3Options {
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
            init_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(1),
            ..base.s3
        },
        ..base
    }
}

#[test]
fn features_on_s3_read_exactly_as_from_a_local_folder() {
    let server = S3Server::start_with_bucket("data").expect("start s3s-fs");
    let files = feature_files(300, 64, SEED);
    let local = local_set(&files);
    let opts = options(server.endpoint(), SECRET_KEY);
    block_on(async {
        let loc = common::create("s3://data/features/", &opts).unwrap();
        upload(&loc, &files).await;
        // An object in a sub-prefix is not part of the folder.
        common::create("s3://data/features/nested", &opts)
            .unwrap()
            .put("Abyssinian_999.jpg.json", b"[1.0]".to_vec())
            .await
            .unwrap();
    });
    for concurrency in [1, 64] {
        let opts = StoreOptions {
            concurrency,
            ..opts.clone()
        };
        let remote = block_on(read_all("s3://data/features", &opts)).unwrap();
        assert_eq!(remote, local, "concurrency {concurrency}");
    }
}

#[test]
fn documents_round_trip_and_ranged_reads_work_on_s3() {
    let server = S3Server::start_with_bucket("docs").expect("start s3s-fs");
    let opts = options(server.endpoint(), SECRET_KEY);
    block_on(async {
        let out = common::create("s3://docs/results", &opts).unwrap();
        write_json(&out, "model.json", &vec![1.5f64, -2.25])
            .await
            .unwrap();
        let back: Vec<f64> = read_json(&out, "model.json").await.unwrap();
        assert_eq!(back, [1.5, -2.25]);
        out.put("blob", (0u8..=255).collect::<Vec<u8>>())
            .await
            .unwrap();
        assert_eq!(out.size("blob").await.unwrap(), 256);
        assert_eq!(
            &out.get_range("blob", 10..13).await.unwrap()[..],
            [10, 11, 12]
        );
        let parts = out.get_ranges("blob", &[0..2, 250..256]).await.unwrap();
        assert_eq!(&parts[0][..], [0, 1]);
        assert_eq!(&parts[1][..], [250, 251, 252, 253, 254, 255]);
    });
    assert!(server.data_dir().join("docs/results/model.json").is_file());
}

/// Objects over `MULTIPART_BYTES` go up as multipart uploads (S3 refuses one PUT over 5 GB):
/// the object read back is the one written, and no part is left as an object of its own.
#[test]
fn large_objects_are_uploaded_in_parts() {
    let server = S3Server::start_with_bucket("big").expect("start s3s-fs");
    let opts = options(server.endpoint(), SECRET_KEY);
    let size = 2 * catclass_store::location::MULTIPART_BYTES + 12345;
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    block_on(async {
        let out = common::create("s3://big/shards", &opts).unwrap();
        out.put("features.safetensors", bytes.clone())
            .await
            .unwrap();
        assert_eq!(out.size("features.safetensors").await.unwrap(), size as u64);
        assert!(out.get("features.safetensors").await.unwrap() == bytes);
        let listed: Vec<String> = out
            .list()
            .await
            .unwrap()
            .iter()
            .map(|m| out.name_of(m))
            .collect();
        assert_eq!(listed, ["features.safetensors"]);
    });
}

#[test]
fn wrong_credentials_fail_in_one_line_naming_the_location() {
    let server = S3Server::start_with_bucket("creds").expect("start s3s-fs");
    block_on(upload(
        &common::create("s3://creds/f", &options(server.endpoint(), SECRET_KEY)).unwrap(),
        &feature_files(3, 4, SEED),
    ));
    let bad = options(server.endpoint(), "a-wrong-secret");
    let err = block_on(read_all("s3://creds/f", &bad)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::S3 {
                kind: S3FailureKind::BadCredentials,
                ..
            }
        ),
        "{err:?}"
    );
    assert_one_line(
        &err,
        &[
            "s3://creds/f",
            "SignatureDoesNotMatch",
            "AWS_SECRET_ACCESS_KEY",
        ],
    );

    let mut unknown = options(server.endpoint(), SECRET_KEY);
    unknown.s3.credentials.as_mut().unwrap().access_key_id = "NOT-A-KEY".into();
    let err = block_on(async {
        let loc = common::open("s3://creds/f", &unknown)?;
        loc.get("Abyssinian_1.jpg.json").await
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::S3 {
                kind: S3FailureKind::BadCredentials,
                ..
            }
        ),
        "{err:?}"
    );
    assert_one_line(&err, &["s3://creds/f/Abyssinian_1.jpg.json"]);
}

#[test]
fn missing_bucket_prefix_and_key_are_named() {
    let server = S3Server::start_with_bucket("present").expect("start s3s-fs");
    let opts = options(server.endpoint(), SECRET_KEY);
    block_on(upload(
        &common::create("s3://present/features", &opts).unwrap(),
        &feature_files(2, 4, SEED),
    ));

    let err = block_on(read_all("s3://absent/features", &opts)).unwrap_err();
    assert!(
        matches!(&err, StoreError::NoSuchBucket { bucket, .. } if bucket == "absent"),
        "{err:?}"
    );
    assert_one_line(&err, &["s3://absent/features", "\"absent\" does not exist"]);

    let err = block_on(read_all("s3://present/nothing-here", &opts)).unwrap_err();
    assert!(matches!(err, StoreError::NoFeatureFiles { .. }), "{err:?}");
    assert_one_line(&err, &["s3://present/nothing-here"]);

    let err = block_on(async {
        common::open("s3://present/features", &opts)?
            .get("Abyssinian_404.jpg.json")
            .await
    })
    .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_one_line(&err, &["s3://present/features/Abyssinian_404.jpg.json"]);
}

#[test]
fn a_server_lost_mid_read_fails_clearly_and_a_rerun_after_restart_completes() {
    let server = Mutex::new(S3Server::start_with_bucket("crash").expect("start s3s-fs"));
    let endpoint = server.lock().unwrap().endpoint();
    let opts = options(endpoint, SECRET_KEY);
    let files = feature_files(400, 32, SEED);
    block_on(upload(
        &common::create("s3://crash/features", &opts).unwrap(),
        &files,
    ));

    // Kill the server once 20 files have been read.
    let err = block_on(async {
        let loc = common::open("s3://crash/features", &opts)?;
        let cat = FeatureCatalog::list(&loc).await?;
        let kill = |done: usize| {
            if done == 20 {
                server.lock().unwrap().stop();
            }
        };
        cat.read(cat.entries(), opts.concurrency, &kill).await
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::S3 {
                kind: S3FailureKind::Unavailable,
                ..
            }
        ),
        "{err:?}"
    );
    assert_one_line(
        &err,
        &[
            "s3://crash/features/",
            "cannot reach http://127.0.0.1:",
            "retries",
        ],
    );

    // Writing while the server is down fails and leaves nothing behind.
    let err = block_on(async {
        let out = common::create("s3://crash/results", &opts)?;
        write_json(&out, "model.json", &vec![1.0f64]).await
    })
    .unwrap_err();
    assert_one_line(&err, &["s3://crash/results/model.json"]);

    server.lock().unwrap().restart().expect("restart");
    let set = block_on(read_all("s3://crash/features", &opts)).unwrap();
    assert_eq!(set, local_set(&files));
    let exists = block_on(async {
        common::open("s3://crash/results", &opts)?
            .exists("model.json")
            .await
    })
    .unwrap();
    assert!(!exists, "a failed write left an object behind");
}

#[test]
fn a_flaky_network_is_survived_by_the_retries() {
    let server = S3Server::start_with_bucket("flaky").expect("start s3s-fs");
    let plan = FaultPlan::new(
        4,
        vec![
            Fault::Drop,
            Fault::Status(503),
            Fault::Delay(Duration::from_millis(1200)),
            Fault::Status(500),
        ],
    )
    .with_max_faults(200)
    .with_lifetime(Duration::from_secs(240));
    let proxy = FaultProxy::start(server.addr(), plan).unwrap();
    let mut opts = options(proxy.endpoint(), SECRET_KEY);
    opts.s3.max_retries = 10;
    opts.s3.request_timeout = Duration::from_millis(400);
    let files = feature_files(200, 32, SEED);
    block_on(upload(
        &common::create("s3://flaky/features", &opts).unwrap(),
        &files,
    ));
    let set = block_on(read_all("s3://flaky/features", &opts)).unwrap();
    assert_eq!(set, local_set(&files));
    assert!(
        proxy.faults_injected() >= 50,
        "only {} faults injected over {} requests",
        proxy.faults_injected(),
        proxy.requests()
    );
}

/// Writes the shard of `set` into `loc`.
async fn write_shard(loc: &Location, set: &FeatureSet) {
    let Values::F32(values) = &set.values else {
        panic!("test features are float32")
    };
    shard::write(loc, SHARD_FILE, &set.names, set.dim, values, None)
        .await
        .unwrap();
}

#[test]
fn a_shard_on_s3_is_read_with_ranged_gets_exactly_as_the_json_files() {
    let server = S3Server::start_with_bucket("shards").expect("start s3s-fs");
    let files = feature_files(600, 1000, SEED);
    let local = local_set(&files);
    let opts = options(server.endpoint(), SECRET_KEY);
    block_on(async {
        let loc = common::create("s3://shards/only-shard", &opts).unwrap();
        write_shard(&loc, &local).await;
        let cat = FeatureCatalog::list(&loc).await.unwrap();
        assert_eq!(cat.source_name(), "shard features.safetensors");
        assert_eq!(cat.entries().len(), 600);
        let all = cat.read(cat.entries(), 8, &|_| {}).await.unwrap();
        assert_eq!(all, local);
        // A scattered subset, in a shuffled order: rows come back in the order asked.
        let picked: Vec<_> = [599, 3, 4, 5, 250, 0]
            .iter()
            .map(|&i| cat.entries()[i].clone())
            .collect();
        let some = cat.read(&picked, 3, &|_| {}).await.unwrap();
        let want: Vec<usize> = picked
            .iter()
            .map(|e| local.names.iter().position(|n| *n == e.name).unwrap())
            .collect();
        assert_eq!(some.values, local.values.select_rows(&want, local.dim));
        assert_eq!(
            some.names,
            picked.iter().map(|e| e.name.clone()).collect::<Vec<_>>()
        );
    });
}

#[test]
fn shards_beside_json_files_and_broken_shards() {
    let files = feature_files(40, 16, SEED);
    let local = local_set(&files);
    let dir = tempfile::tempdir().unwrap();
    write_local(dir.path(), &files);
    let spec = dir.path().to_str().unwrap().to_string();
    let opts = StoreOptions::default();
    block_on(async {
        let loc = common::open(&spec, &opts).unwrap();
        write_shard(&loc, &local).await;
        // Same files in both: the shard is used, and gives the same rows.
        let cat = FeatureCatalog::list(&loc).await.unwrap();
        assert!(cat.source_name().starts_with("shard"));
        assert_eq!(cat.read(cat.entries(), 4, &|_| {}).await.unwrap(), local);
        let json = FeatureCatalog::list_as(&loc, FeatureFormat::Json)
            .await
            .unwrap();
        assert_eq!(json.source_name(), "json");
        // A JSON file added after the shard was written: the JSON files are the truth.
        std::fs::write(dir.path().join("Abyssinian_999.jpg.json"), "[0.5]").unwrap();
        let cat = FeatureCatalog::list(&loc).await.unwrap();
        assert_eq!(cat.source_name(), "json");
        assert_eq!(cat.entries().len(), 41);
        // A truncated shard is refused, naming the file and the problem.
        let path = dir.path().join(SHARD_FILE);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = FeatureCatalog::list_as(&loc, FeatureFormat::Shard)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(SHARD_FILE) && err.contains("truncated"),
            "{err}"
        );
        // Not a safetensors file at all.
        std::fs::write(&path, b"\x05\x00\x00\x00\x00\x00\x00\x00hello").unwrap();
        let err = FeatureCatalog::list_as(&loc, FeatureFormat::Shard)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(SHARD_FILE) && err.contains("header"), "{err}");
        std::fs::remove_file(&path).unwrap();
        let err = FeatureCatalog::list_as(&loc, FeatureFormat::Shard)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no feature shard"), "{err}");
    });
}
