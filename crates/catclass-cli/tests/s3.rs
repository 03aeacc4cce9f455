//! `catclass train` with features and results on a real S3 server (s3s-fs on loopback,
//! signatures checked), configured the standard way: AWS_* variables and `--s3-endpoint`.

mod common;

use catclass_app::blocking::block_on;
use catclass_app::synthetic::pets_like;
use catclass_svm::store::StoreOptions;
use catclass_testkit::{ACCESS_KEY, REGION, S3Server, SECRET_KEY};
use std::path::Path;
use std::process::{Command, Output};

const BUCKET: &str = "pets";

/// Options for writing test data straight to the server.
fn direct(server: &S3Server) -> StoreOptions {
    StoreOptions::s3_endpoint(&server.endpoint(), ACCESS_KEY, SECRET_KEY, REGION)
}

/// The same synthetic features in a local folder and under `s3://pets/features`.
fn features(server: &S3Server, dir: &Path) {
    let pets = pets_like(11, 5, 24, 48);
    let local =
        catclass_app::location::create(dir.to_str().unwrap(), &StoreOptions::default()).unwrap();
    let remote =
        catclass_app::location::create(&format!("s3://{BUCKET}/features"), &direct(server))
            .unwrap();
    block_on(pets.write_json_files(&local, 8)).unwrap();
    block_on(pets.write_json_files(&remote, 8)).unwrap();
}

/// `catclass <args>` with no AWS_* variable but those given.
fn catclass(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catclass"));
    for (key, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        if key.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.output().expect("run catclass")
}

fn ok(out: &Output) {
    common::assert_success("catclass", out);
}

/// The single error line of a failed run (no panic, no backtrace).
fn error_line(out: &Output) -> String {
    assert!(!out.status.success(), "catclass should have failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "expected one error line: {stderr}");
    lines[0].to_string()
}

fn local_file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn s3_file(server: &S3Server, key: &str) -> String {
    std::fs::read_to_string(server.data_dir().join(BUCKET).join(key)).unwrap()
}

/// `report.json` without its timings (wall clock), the feature location replaced.
fn report_without_timings(text: &str, features: &str) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&text.replace(features, "FEATURES")).unwrap();
    v.as_object_mut().unwrap().remove("timings");
    v
}

#[test]
fn train_on_s3_writes_to_s3_exactly_what_a_local_run_writes() {
    let server = S3Server::start_with_bucket(BUCKET).expect("start s3s-fs");
    let dir = tempfile::tempdir().unwrap();
    let (feats, out) = (dir.path().join("features"), dir.path().join("out"));
    features(&server, &feats);
    let local_features = feats.to_str().unwrap();

    ok(&catclass(
        &[
            "train",
            local_features,
            "Bengal",
            "None",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    // Credentials from the environment, the endpoint from the flag.
    let env: Vec<(&str, String)> = server
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "AWS_ENDPOINT_URL")
        .collect();
    let s3_features = format!("s3://{BUCKET}/features");
    ok(&catclass(
        &[
            "train",
            &s3_features,
            "Bengal",
            "None",
            "--out",
            &format!("s3://{BUCKET}/results/"),
            "--s3-endpoint",
            &server.endpoint(),
        ],
        &env,
    ));

    assert_eq!(
        s3_file(&server, "results/resultat.txt"),
        local_file(&out, "resultat.txt")
    );
    assert!(local_file(&out, "resultat.txt").starts_with("Bengal"));
    assert_eq!(
        s3_file(&server, "results/model.json").replace(&s3_features, local_features),
        local_file(&out, "model.json")
    );
    assert_eq!(
        report_without_timings(&s3_file(&server, "results/report.json"), &s3_features),
        report_without_timings(&local_file(&out, "report.json"), local_features)
    );
}

#[test]
fn s3_features_with_local_results_and_the_reverse() {
    let server = S3Server::start_with_bucket(BUCKET).expect("start s3s-fs");
    let dir = tempfile::tempdir().unwrap();
    let feats = dir.path().join("features");
    features(&server, &feats);
    let local_features = feats.to_str().unwrap();
    let s3_features = format!("s3://{BUCKET}/features");
    // The endpoint from AWS_ENDPOINT_URL this time.
    let env = server.env();

    let s3_to_local = dir.path().join("from-s3");
    ok(&catclass(
        &[
            "train",
            &s3_features,
            "Abyssinian",
            "Birman",
            "--out",
            s3_to_local.to_str().unwrap(),
        ],
        &env,
    ));
    ok(&catclass(
        &[
            "train",
            local_features,
            "Abyssinian",
            "Birman",
            "--out",
            &format!("s3://{BUCKET}/from-local"),
        ],
        &env,
    ));
    assert_eq!(
        s3_file(&server, "from-local/resultat.txt"),
        local_file(&s3_to_local, "resultat.txt")
    );
    assert_eq!(
        s3_file(&server, "from-local/model.json"),
        local_file(&s3_to_local, "model.json").replace(&s3_features, local_features)
    );
}

#[test]
fn wrong_credentials_missing_bucket_and_empty_prefix_are_one_clear_line() {
    let server = S3Server::start_with_bucket(BUCKET).expect("start s3s-fs");
    let dir = tempfile::tempdir().unwrap();
    features(&server, &dir.path().join("features"));
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();

    let mut wrong = server.env();
    for (k, v) in &mut wrong {
        if *k == "AWS_SECRET_ACCESS_KEY" {
            *v = "not-the-secret".into();
        }
    }
    let line = error_line(&catclass(
        &[
            "train",
            "s3://pets/features",
            "Bengal",
            "None",
            "--out",
            out,
        ],
        &wrong,
    ));
    assert!(line.contains("s3://pets/features"), "{line}");
    assert!(line.contains("refused the credentials"), "{line}");

    let line = error_line(&catclass(
        &[
            "train",
            "s3://no-such-bucket/features",
            "Bengal",
            "None",
            "--out",
            out,
        ],
        &server.env(),
    ));
    assert!(
        line.contains("bucket \"no-such-bucket\" does not exist"),
        "{line}"
    );

    let line = error_line(&catclass(
        &["train", "s3://pets/empty", "Bengal", "None", "--out", out],
        &server.env(),
    ));
    assert!(line.contains("s3://pets/empty: no feature files"), "{line}");
    assert!(!Path::new(out).join("model.json").exists());
}

#[test]
fn a_stopped_server_fails_cleanly_and_a_rerun_after_restart_completes() {
    let mut server = S3Server::start_with_bucket(BUCKET).expect("start s3s-fs");
    let dir = tempfile::tempdir().unwrap();
    features(&server, &dir.path().join("features"));
    let env = server.env();
    let args = [
        "train",
        "s3://pets/features",
        "Bengal",
        "None",
        "--out",
        "s3://pets/results",
        "--s3-retries",
        "2",
    ];
    server.stop();
    let line = error_line(&catclass(&args, &env));
    assert!(line.contains("s3://pets/features: cannot reach"), "{line}");
    assert!(line.contains("connection refused"), "{line}");
    server.restart().expect("restart");
    assert!(!server.data_dir().join("pets/results").exists());
    ok(&catclass(&args, &env));
    assert!(s3_file(&server, "results/resultat.txt").starts_with("Bengal"));
}

/// Every regular file under `dir`, by name, with its bytes.
fn files_in(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// 40 cat and 40 dog variants of the shipped photos (generated), locally and on S3.
fn photos(server: &S3Server, dir: &Path) {
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/images");
    let (cat, dog) = (photos.join("chelsea.jpg"), photos.join("darknet-dog.jpg"));
    let files =
        catclass_app::photos::photo_variants(&[(&cat, "cat"), (&dog, "dog")], 40, 5, dir).unwrap();
    let remote =
        catclass_app::location::create(&format!("s3://{BUCKET}/images"), &direct(server)).unwrap();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        block_on(remote.put(&name, std::fs::read(&f).unwrap())).unwrap();
    }
}

#[test]
fn extract_and_train_on_s3_match_the_local_run_and_resume_after_the_server_died() {
    let mut server = S3Server::start_with_bucket(BUCKET).expect("start s3s-fs");
    let dir = tempfile::tempdir().unwrap();
    let (imgs, feats, out) = (
        dir.path().join("images"),
        dir.path().join("features"),
        dir.path().join("out"),
    );
    photos(&server, &imgs);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(&catclass(
        &["extract", &s(&imgs), "--out", &s(&feats), "--batch", "4"],
        &[],
    ));
    ok(&catclass(
        &["train", &s(&feats), "cat", "dog", "--out", &s(&out)],
        &[],
    ));

    // The same on S3, the server killed once a few feature files are written.
    let env = server.env();
    let remote_feats = format!("s3://{BUCKET}/photo-features");
    let extract_args = [
        "extract",
        "s3://pets/images/",
        "--out",
        &remote_feats,
        "--batch",
        "1",
        "--threads",
        "1",
        "--s3-retries",
        "1",
    ];
    let child = Command::new(env!("CARGO_BIN_EXE_catclass"))
        .args(extract_args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let written = server.data_dir().join(BUCKET).join("photo-features");
    let start = std::time::Instant::now();
    while std::fs::read_dir(&written)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".png.json"))
            })
            .count()
        })
        .unwrap_or(0)
        < 3
    {
        assert!(
            start.elapsed().as_secs() < 120,
            "no feature file appeared on the server"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    server.stop();
    let died = child.wait_with_output().unwrap();
    assert!(
        !died.status.success(),
        "extract should fail when the server dies"
    );
    let stderr = String::from_utf8_lossy(&died.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("s3://pets/") && stderr.contains("cannot reach"),
        "{stderr}"
    );
    // Nothing half-written: every feature object on the server is a whole, valid file.
    for (name, bytes) in files_in(&written) {
        if name.ends_with(".json") {
            let v: Vec<f64> =
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(v.len(), 1280, "{name}");
        }
    }

    server.restart().expect("restart");
    let rerun = catclass(&extract_args, &server.env());
    ok(&rerun);
    let stdout = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        !stdout.contains(" 0 already there"),
        "the rerun resumed: {stdout}"
    );
    assert_eq!(
        files_in(&written),
        files_in(&feats),
        "features (JSON files, shard, manifest) on S3 equal the local ones byte for byte"
    );
    ok(&catclass(
        &[
            "train",
            &remote_feats,
            "cat",
            "dog",
            "--out",
            &format!("s3://{BUCKET}/photo-results"),
        ],
        &server.env(),
    ));
    assert_eq!(
        s3_file(&server, "photo-results/model.json").replace(&remote_feats, &s(&feats)),
        local_file(&out, "model.json")
    );
}

/// No credential (access key id, secret key, session token) ever appears in what catclass
/// prints, on success or failure, even asked for every log (`RUST_LOG=trace`): runs that
/// succeed (train, predict-free eval), that the server refuses (wrong secret, wrong key id)
/// and that cannot connect.
#[test]
fn credentials_never_appear_in_output() {
    let server = S3Server::start_with_bucket(BUCKET).expect("start s3s-fs");
    let dir = tempfile::tempdir().unwrap();
    features(&server, &dir.path().join("features"));
    let token = "session-token-4f1c9e".to_string();
    let with = |key: &'static str, value: String| {
        let mut env = server.env();
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
        env.push(("AWS_SESSION_TOKEN", token.clone()));
        env.push(("RUST_LOG", "trace".into()));
        env
    };
    let out = dir.path().join("out");
    let run = |env: &[(&str, String)], out: &Path| {
        catclass(
            &[
                "train",
                "s3://pets/features",
                "Bengal",
                "None",
                "--out",
                out.to_str().unwrap(),
            ],
            env,
        )
    };
    let wrong_secret = "wrong-secret-0b7d2a".to_string();
    let wrong_key = "AKIAWRONGKEY7Q2".to_string();
    let outputs = [
        run(&with("RUST_LOG", "trace".into()), &out),
        run(
            &with("AWS_SECRET_ACCESS_KEY", wrong_secret.clone()),
            &dir.path().join("o2"),
        ),
        run(
            &with("AWS_ACCESS_KEY_ID", wrong_key.clone()),
            &dir.path().join("o3"),
        ),
        run(
            &with("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()),
            &dir.path().join("o4"),
        ),
    ];
    assert!(outputs[0].status.success());
    assert!(outputs[1..].iter().all(|o| !o.status.success()));
    let eval = catclass(
        &[
            "eval",
            &format!("{}/model.json", out.display()),
            "s3://pets/features",
            "--out",
            dir.path().join("e").to_str().unwrap(),
        ],
        &with("RUST_LOG", "trace".into()),
    );
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    for o in outputs.iter().chain([&eval]) {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        for secret in [SECRET_KEY, ACCESS_KEY, &token, &wrong_secret, &wrong_key] {
            assert!(!text.contains(secret), "{secret:?} printed:\n{text}");
        }
    }
    // Nor in what was written.
    for f in ["report.json", "model.json", "resultat.txt"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(!text.contains(SECRET_KEY) && !text.contains(&token), "{f}");
    }
}
