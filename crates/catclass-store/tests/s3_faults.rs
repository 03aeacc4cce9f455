//! The store against s3s-fs behind a fault-injecting proxy that breaks responses: connections
//! reset mid-body, bodies dripped slowly, throttling storms (`503 Slow Down`), and
//! `Content-Length` headers that lie. Each read either returns exactly the uploaded values or
//! fails with one line naming the object.

mod common;
use catclass_store::{
    Location, S3FailureKind, S3Options, SHARD_FILE, StoreError, StoreOptions, Values, shard,
};
use catclass_testkit::{ACCESS_KEY, Fault, FaultPlan, FaultProxy, REGION, S3Server, SECRET_KEY};
use common::{assert_one_line, block_on, feature_files, local_set, read_all};

/// The generator seed of this file's feature files.
const SEED: u64 = 0x2545_f491_4f6c_dd1d;
use futures::{StreamExt, TryStreamExt};
use std::time::Duration;

/// A server with `files` uploaded under `s3://bucket/features` (directly, not through a proxy).
fn server_with(bucket: &str, files: &[(String, String)]) -> S3Server {
    let server = S3Server::start_with_bucket(bucket).expect("start s3s-fs");
    let opts = options(server.endpoint());
    block_on(async {
        let loc = common::create(&format!("s3://{bucket}/features"), &opts).unwrap();
        futures::stream::iter(files)
            .map(|(name, body)| loc.put(name, body.clone().into_bytes()))
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await
            .unwrap();
    });
    server
}

/// Options that reach `endpoint`: three retries with short backoffs, one read at a time (so
/// that the proxy's connection numbers, and the faults, fall on the same requests every run).
fn options(endpoint: String) -> StoreOptions {
    let base = StoreOptions::s3_endpoint(&endpoint, ACCESS_KEY, SECRET_KEY, REGION);
    StoreOptions {
        concurrency: 1,
        s3: S3Options {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            init_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            ..base.s3
        },
        ..base
    }
}

fn open(bucket: &str, opts: &StoreOptions) -> Location {
    common::open(&format!("s3://{bucket}/features"), opts).unwrap()
}

/// A proxy in front of `server` making `fault` on every `every`-th request.
fn faulty_proxy(server: &S3Server, every: usize, fault: Fault) -> FaultProxy {
    let plan = FaultPlan::new(every, vec![fault]).with_lifetime(Duration::from_secs(120));
    FaultProxy::start(server.addr(), plan).unwrap()
}

/// A reset after 0, 1, 64 or 300 bytes of every other object read is retried from the byte
/// reached: the values are exactly the uploaded ones (4 cases). A reset on every read (64 bytes
/// each time, a file needing 10) fails naming the object once the retries are spent (1 case).
#[test]
fn a_connection_reset_mid_body_is_retried_from_the_byte_reached() {
    let files = feature_files(30, 32, SEED);
    let local = local_set(&files);
    let server = server_with("resets", &files);
    for after in [0, 1, 64, 300] {
        let proxy = faulty_proxy(&server, 2, Fault::ResetMidBody(after));
        let set = block_on(read_all("s3://resets/features", &options(proxy.endpoint())));
        assert_eq!(set.unwrap(), local, "reset after {after} bytes");
        // One read at a time: the list is request 1, each file's first GET an even one.
        assert_eq!(proxy.faults_injected(), files.len(), "after {after} bytes");
    }

    let proxy = faulty_proxy(&server, 1, Fault::ResetMidBody(64));
    let err = block_on(read_all("s3://resets/features", &options(proxy.endpoint()))).unwrap_err();
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
            "s3://resets/features/Abyssinian_1.jpg.json: ",
            "(connection reset)",
        ],
    );
    assert_eq!(
        proxy.faults_injected(),
        4,
        "the first read and its 3 retries"
    );
}

/// Bodies dripped a byte at a time, or 32 bytes every 2 ms, read with the default timeouts:
/// exactly the uploaded values (2 cases). A drip 16 times slower than a 1 s request timeout:
/// one line naming the object and the timeout, after the retries (1 case).
#[test]
fn a_slow_drip_completes_or_fails_naming_the_timeout() {
    let files = feature_files(30, 32, SEED);
    let local = local_set(&files);
    let server = server_with("drips", &files);
    for (bytes, pause) in [(1, Duration::ZERO), (32, Duration::from_millis(2))] {
        let proxy = faulty_proxy(&server, 1, Fault::Drip { bytes, pause });
        let mut opts = options(proxy.endpoint());
        opts.s3.request_timeout = S3Options::default().request_timeout;
        opts.s3.connect_timeout = S3Options::default().connect_timeout;
        let set = block_on(read_all("s3://drips/features", &opts));
        assert_eq!(set.unwrap(), local, "{bytes} bytes every {pause:?}");
        assert_eq!(proxy.faults_injected(), files.len(), "one GET per file");
    }

    // A file of about 640 bytes, 8 bytes every 200 ms: 16 s per attempt.
    let proxy = faulty_proxy(
        &server,
        1,
        Fault::Drip {
            bytes: 8,
            pause: Duration::from_millis(200),
        },
    );
    let mut opts = options(proxy.endpoint());
    opts.s3.request_timeout = Duration::from_secs(1);
    let err = block_on(read_all("s3://drips/features", &opts)).unwrap_err();
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
            "s3://drips/features/Abyssinian_1.jpg.json: ",
            "took longer than the request timeout",
            "retries",
        ],
    );
    assert_eq!(
        proxy.faults_injected(),
        4,
        "the first read and its 3 retries"
    );
}

/// Storms of 1, 2 and 3 consecutive `503 Slow Down` (with `Retry-After` and the S3 XML error)
/// on one object, with 3 retries: the object read is the uploaded one (3 cases); a storm of 3
/// on a whole folder (the listing first): the uploaded values (1 case). Storms of 4 and 12:
/// one line naming the object, saying it was throttled and retried (2 cases).
#[test]
fn slow_down_storms_are_retried_or_reported_as_throttling() {
    let files = feature_files(6, 16, SEED);
    let local = local_set(&files);
    let server = server_with("storms", &files);
    let (name, body) = &files[0];
    let storm = |n: usize| {
        let plan = FaultPlan::new(1, vec![Fault::Status(503)]).with_max_faults(n);
        FaultProxy::start(server.addr(), plan).unwrap()
    };
    for n in 1..=3 {
        let proxy = storm(n);
        let got = block_on(open("storms", &options(proxy.endpoint())).get(name)).unwrap();
        assert_eq!(&got[..], body.as_bytes(), "a storm of {n}");
        assert_eq!(proxy.faults_injected(), n);
        assert_eq!(proxy.requests(), n + 1);
    }

    let proxy = storm(3);
    let set = block_on(read_all("s3://storms/features", &options(proxy.endpoint())));
    assert_eq!(set.unwrap(), local);

    for n in [4, 12] {
        let proxy = storm(n);
        let err = block_on(open("storms", &options(proxy.endpoint())).get(name)).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::S3 {
                    kind: S3FailureKind::Throttled,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "s3://storms/features/Abyssinian_1.jpg.json: throttled by the server \
             (503 SlowDown), gave up after 3 retries"
        );
        assert_eq!(
            proxy.faults_injected(),
            4,
            "the first read and its 3 retries"
        );
    }
}

fn assert_short_response(err: &StoreError, location: &str) {
    assert!(
        matches!(
            err,
            StoreError::S3 {
                kind: S3FailureKind::ShortResponse,
                ..
            }
        ),
        "{err:?}"
    );
    assert_one_line(
        err,
        &[
            &format!("{location}: a response ended before its announced length"),
            "refused the range of the missing bytes",
        ],
    );
}

/// `Content-Length` announcing 1 or 1000 bytes more than a feature file's body (the
/// connection then closes): one line naming the object (2 cases). Announcing 1 or 100 bytes
/// fewer (the rest sent after): the short body is refused against the listed size, naming the
/// object (2 cases). The same on the ranged reads of a shard (2 cases). Never a short or
/// garbled object taken for the real one; through an honest proxy the values are exactly the
/// uploaded ones (1 case).
#[test]
fn a_wrong_content_length_is_never_taken_for_the_object() {
    let files = feature_files(6, 32, SEED);
    let local = local_set(&files);
    let server = server_with("lengths", &files);
    let first = "s3://lengths/features/Abyssinian_1.jpg.json";
    let size = files[0].1.len() as u64;
    for by in [1, 1000] {
        let proxy = faulty_proxy(&server, 1, Fault::OverstatedLength(by));
        let err = block_on(read_all(
            "s3://lengths/features",
            &options(proxy.endpoint()),
        ))
        .unwrap_err();
        assert_short_response(&err, first);
    }
    for by in [1, 100] {
        let proxy = faulty_proxy(&server, 1, Fault::UnderstatedLength(by));
        let err = block_on(read_all(
            "s3://lengths/features",
            &options(proxy.endpoint()),
        ))
        .unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::LengthMismatch { location, received, expected, .. }
                    if location == first && *received == size - by && *expected == size
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{first}: {} bytes received, but {size} expected (its listed size): the \
                 response was cut short or the object changed while being read",
                size - by
            )
        );
    }

    let Values::F32(values) = &local.values else {
        panic!("test features are float32")
    };
    block_on(async {
        let loc = common::create("s3://lengths/shard", &options(server.endpoint())).unwrap();
        shard::write(&loc, SHARD_FILE, &local.names, local.dim, values, None)
            .await
            .unwrap();
    });
    let shard_file = "s3://lengths/shard/features.safetensors";
    let proxy = faulty_proxy(&server, 1, Fault::OverstatedLength(1));
    let err = block_on(read_all("s3://lengths/shard", &options(proxy.endpoint()))).unwrap_err();
    assert_short_response(&err, shard_file);
    let proxy = faulty_proxy(&server, 1, Fault::UnderstatedLength(1));
    let err = block_on(read_all("s3://lengths/shard", &options(proxy.endpoint()))).unwrap_err();
    assert!(
        matches!(&err, StoreError::LengthMismatch { location, expected_from, .. }
            if location == shard_file && *expected_from == "the range asked"),
        "{err:?}"
    );
    assert_one_line(
        &err,
        &[shard_file, "bytes received, but", "the range asked"],
    );

    let honest = FaultProxy::start(server.addr(), FaultPlan::none()).unwrap();
    let opts = options(honest.endpoint());
    assert_eq!(
        block_on(read_all("s3://lengths/shard", &opts)).unwrap(),
        local
    );
}
