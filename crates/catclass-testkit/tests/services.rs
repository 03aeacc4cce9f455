//! The test services themselves, against the real s3s-fs binary.

use catclass_testkit::{Fault, FaultPlan, FaultProxy, S3Server};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use std::time::Duration;

fn fast_retry(max_retries: usize) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            base: 2.0,
        },
        max_retries,
        retry_timeout: Duration::from_secs(30),
    }
}

#[tokio::test]
async fn bucket_put_get_list_round_trip() {
    let server = S3Server::start_with_bucket("roundtrip").expect("start s3s-fs");
    assert!(server.data_dir().join("roundtrip").is_dir());
    let store = server.builder("roundtrip").build().unwrap();
    let path = Path::from("features/a_1.jpg.json");
    store
        .put(&path, b"[1.0,2.0]".to_vec().into())
        .await
        .unwrap();
    let got = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"[1.0,2.0]");
    let range = store.get_range(&path, 1..4).await.unwrap();
    assert_eq!(&range[..], b"1.0");
    let listed: Vec<_> = futures_list(&store, "features").await;
    assert_eq!(listed, vec!["features/a_1.jpg.json".to_owned()]);
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let server = S3Server::start_with_bucket("sig").expect("start s3s-fs");
    let good = server.builder("sig").build().unwrap();
    good.put(&Path::from("k"), b"v".to_vec().into())
        .await
        .unwrap();
    let bad = server
        .builder("sig")
        .with_secret_access_key("not-the-secret")
        .with_retry(fast_retry(0))
        .build()
        .unwrap();
    let err = bad.get(&Path::from("k")).await.unwrap_err();
    assert!(
        matches!(
            err,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ),
        "expected an authorisation error, got {err:?}"
    );
    let err = bad
        .put(&Path::from("k2"), b"v".to_vec().into())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ),
        "expected an authorisation error, got {err:?}"
    );
    assert!(!server.data_dir().join("sig/k2").exists());
}

#[tokio::test]
async fn a_missing_bucket_and_key_are_not_found() {
    let server = S3Server::start_with_bucket("present").expect("start s3s-fs");
    let store = server.builder("present").build().unwrap();
    let err = store.get(&Path::from("nope")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    let absent = server.builder("absent").build().unwrap();
    let err = absent.get(&Path::from("k")).await.unwrap_err();
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn restart_keeps_data_and_port() {
    let mut server = S3Server::start_with_bucket("keep").expect("start s3s-fs");
    let endpoint = server.endpoint();
    let store = server
        .builder("keep")
        .with_retry(fast_retry(1))
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(true)
                .with_connect_timeout(Duration::from_secs(1)),
        )
        .build()
        .unwrap();
    store
        .put(&Path::from("k"), b"v".to_vec().into())
        .await
        .unwrap();
    server.stop();
    assert!(!server.is_running());
    assert!(store.get(&Path::from("k")).await.is_err());
    server.restart().expect("restart");
    assert!(server.is_running());
    assert_eq!(server.endpoint(), endpoint);
    let got = store
        .get(&Path::from("k"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"v");
}

#[tokio::test]
async fn retries_survive_a_flaky_proxy() {
    let server = S3Server::start_with_bucket("flaky").expect("start s3s-fs");
    let plan = FaultPlan::new(
        3,
        vec![
            Fault::Drop,
            Fault::Status(503),
            Fault::Delay(Duration::from_millis(1500)),
            Fault::Status(500),
        ],
    )
    .with_max_faults(40)
    .with_lifetime(Duration::from_secs(120));
    let proxy = FaultProxy::start(server.addr(), plan).unwrap();
    let store = server
        .builder("flaky")
        .with_endpoint(proxy.endpoint())
        .with_retry(fast_retry(10))
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(true)
                .with_timeout(Duration::from_millis(500)),
        )
        .build()
        .unwrap();
    for i in 0..20 {
        let path = Path::from(format!("k{i}"));
        store
            .put(&path, format!("value {i}").into_bytes().into())
            .await
            .unwrap();
    }
    for i in 0..20 {
        let got = store
            .get(&Path::from(format!("k{i}")))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(got, format!("value {i}").into_bytes());
    }
    assert!(proxy.faults_injected() >= 10, "{}", proxy.faults_injected());
    assert!(proxy.requests() > 40);
}

#[tokio::test]
async fn without_retries_the_proxy_faults_surface() {
    let server = S3Server::start_with_bucket("noretry").expect("start s3s-fs");
    let proxy =
        FaultProxy::start(server.addr(), FaultPlan::new(1, vec![Fault::Status(503)])).unwrap();
    let store = server
        .builder("noretry")
        .with_endpoint(proxy.endpoint())
        .with_retry(fast_retry(0))
        .build()
        .unwrap();
    let err = store.get(&Path::from("k")).await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(proxy.faults_injected(), 1);
}

async fn futures_list(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let prefix = Path::from(prefix);
    let mut names: Vec<String> = store
        .list(Some(&prefix))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names
}
