//! `catclass train --executor mpi` under `mpirun` (feature `mpi`; needs Open MPI's `mpirun`):
//! the model file is byte-identical for 1, 2 and 3 ranks and to the thread-pool run, and a bad
//! file on one rank fails the whole job with one message naming the rank and the file.
#![cfg(feature = "mpi")]

mod common;

use common::{assert_success, golden};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd`, killing it if it has not finished after two minutes (a hung rank must fail the
/// test rather than stall CI).
fn run_guarded(mut cmd: Command) -> Output {
    // One job at a time: concurrent mpirun jobs of parallel tests were seen to interfere.
    static ONE_JOB: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    let out = run_once(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // catclass prints `error: ...` on every failure; a failure without it is Open MPI failing
    // to launch the job (seen rarely on loaded machines): retried once, and said.
    if !out.status.success() && !stderr.contains("error:") && !stderr.contains("panicked") {
        eprintln!("{cmd:?} failed before catclass reported anything; retrying once:\n{stderr}");
        return run_once(&mut cmd);
    }
    out
}

/// Runs `cmd` once, killing it if it has not finished after two minutes.
fn run_once(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command (is Open MPI's mpirun on PATH?)");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} still running after 120 s (a rank hangs):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `mpirun -np ranks catclass train <args> --executor mpi --threads 1`.
fn mpirun(ranks: usize, args: &[String]) -> Output {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "--allow-run-as-root", "-np"])
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_catclass"))
        .arg("train")
        .args(args)
        .args(["--executor", "mpi", "--threads", "1"]);
    run_guarded(cmd)
}

fn threads(args: &[String]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catclass"));
    cmd.arg("train").args(args).args(["--threads", "2"]);
    run_guarded(cmd)
}

/// A generated one-vs-all set of `rows` files (several blocks of 256 rows), classes A, B, C.
fn generated(dir: &Path, rows: usize, dim: usize) {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    for r in 0..rows {
        let class = ["A", "B", "C"][r % 3];
        let shift = if class == "A" { 0.3 } else { 0.0 };
        let values: Vec<String> = (0..dim)
            .map(|_| format!("{:?}", (next() - 0.45 + shift).max(0.0) * 1.7))
            .collect();
        std::fs::write(
            dir.join(format!("{class}_{r}.jpg.json")),
            format!("[{}]", values.join(", ")),
        )
        .unwrap();
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// model.json of the thread pool and of 1, 2, 3 ranks: the same bytes, on the golden
/// one-vs-all case and on a generated set of 5 blocks (uneven shards, some ranks with more
/// blocks than others), with full passes and with mini-batches.
#[test]
fn model_is_identical_for_every_rank_count() {
    let data = tempfile::tempdir().unwrap();
    generated(data.path(), 1100, 12);
    let ova = golden("ova-256-defaults");
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "golden ova-256-defaults",
            s(&[
                ova.join("train").to_str().unwrap(),
                "Abyssinian",
                "None",
                "--test-features",
                ova.join("test").to_str().unwrap(),
            ]),
        ),
        (
            "golden ova-256-defaults, mini-batch 0.5",
            s(&[
                ova.join("train").to_str().unwrap(),
                "Abyssinian",
                "None",
                "--mini-batch-fraction",
                "0.5",
                "--iterations",
                "40",
            ]),
        ),
        (
            "generated 1100 rows, mini-batch 0.5",
            s(&[
                data.path().to_str().unwrap(),
                "A",
                "None",
                "--mini-batch-fraction",
                "0.5",
                "--iterations",
                "30",
                "--convergence-tol",
                "0",
                "--train-fraction",
                "0.9",
            ]),
        ),
    ];
    for (name, args) in cases {
        let reference = tempfile::tempdir().unwrap();
        let mut a = args.clone();
        a.extend(s(&["--out", reference.path().to_str().unwrap()]));
        assert_success(name, &threads(&a));
        let want = std::fs::read(reference.path().join("model.json")).unwrap();
        assert!(want.len() > 100, "{name}: model.json too small");
        for ranks in [1, 2, 3] {
            let out = tempfile::tempdir().unwrap();
            let mut a = args.clone();
            a.extend(s(&["--out", out.path().to_str().unwrap()]));
            let run = mpirun(ranks, &a);
            assert_success(&format!("{name}, {ranks} ranks"), &run);
            let got = std::fs::read(out.path().join("model.json")).unwrap();
            assert!(
                got == want,
                "{name}: model.json of {ranks} ranks differs from the thread pool's"
            );
            // Only rank 0 prints the summary.
            let stdout = String::from_utf8_lossy(&run.stdout);
            assert_eq!(stdout.matches("--->").count(), 1, "{name}: {stdout}");
        }
    }
}

/// A non-finite value in a file of the last rank's shard: every rank stops, the job exits
/// non-zero, and the one message names the rank and the file.
#[test]
fn a_bad_file_on_one_rank_fails_the_whole_job() {
    let data = tempfile::tempdir().unwrap();
    generated(data.path(), 1100, 12);
    // Training on all 1100 rows (a separate, clean test set): 5 blocks, rank 2 of 3 holds
    // rows 768.. of the name order, where C_998 lies (by plain or natural name order).
    let bad = "C_998.jpg.json";
    assert!(data.path().join(bad).exists());
    std::fs::write(data.path().join(bad), "[0.5, NaN, 1.0]").unwrap();
    let test = tempfile::tempdir().unwrap();
    generated(test.path(), 60, 12);
    let out = tempfile::tempdir().unwrap();
    let run = mpirun(
        3,
        &s(&[
            data.path().to_str().unwrap(),
            "A",
            "None",
            "--test-features",
            test.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "the job should fail:\n{stderr}");
    assert!(stderr.contains("rank 2 of 3"), "{stderr}");
    assert!(stderr.contains(bad), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.path().join("model.json").exists());
}

/// Features on a real S3 server (s3s-fs on loopback, from `catclass-testkit`): every rank reads
/// its own shard from S3 and the model is the same bytes as the thread pool's on the same files
/// read from local disk, for 1, 2 and 3 ranks.
#[test]
fn model_from_s3_is_identical_for_every_rank_count() {
    use catclass_app::blocking::block_on;
    use catclass_svm::store::StoreOptions;
    use catclass_testkit::{ACCESS_KEY, REGION, S3Server, SECRET_KEY};
    let server = S3Server::start_with_bucket("pets").expect("start s3s-fs");
    let direct = StoreOptions::s3_endpoint(&server.endpoint(), ACCESS_KEY, SECRET_KEY, REGION);
    // 5 breeds x 200 = 1,000 files, 700 training rows: 3 blocks.
    let pets = catclass_app::synthetic::pets_like(11, 5, 200, 24);
    let dir = tempfile::tempdir().unwrap();
    let local =
        catclass_app::location::create(dir.path().to_str().unwrap(), &StoreOptions::default())
            .unwrap();
    let remote = catclass_app::location::create("s3://pets/features", &direct).unwrap();
    block_on(pets.write_json_files(&local, 8)).unwrap();
    block_on(pets.write_json_files(&remote, 8)).unwrap();
    let class = pets.classes[0].clone();
    let solver = s(&["--mini-batch-fraction", "0.5", "--iterations", "30"]);

    let reference = tempfile::tempdir().unwrap();
    let mut a = s(&[dir.path().to_str().unwrap(), &class, "None"]);
    a.extend(solver.clone());
    a.extend(s(&["--out", reference.path().to_str().unwrap()]));
    assert_success("threads, local features", &threads(&a));
    let want = std::fs::read_to_string(reference.path().join("model.json"))
        .unwrap()
        .replace(dir.path().to_str().unwrap(), "s3://pets/features");
    for ranks in [1, 2, 3] {
        let out = tempfile::tempdir().unwrap();
        let mut a = s(&["s3://pets/features", &class, "None"]);
        a.extend(solver.clone());
        a.extend(s(&[
            "--out",
            out.path().to_str().unwrap(),
            "--s3-endpoint",
            &server.endpoint(),
        ]));
        let mut cmd = Command::new("mpirun");
        cmd.args(["--oversubscribe", "--allow-run-as-root", "-np"])
            .arg(ranks.to_string())
            .arg(env!("CARGO_BIN_EXE_catclass"))
            .arg("train")
            .args(&a)
            .args(["--executor", "mpi", "--threads", "1"])
            .envs(server.env());
        let run = run_guarded(cmd);
        assert_success(&format!("S3, {ranks} ranks"), &run);
        let got = std::fs::read_to_string(out.path().join("model.json")).unwrap();
        assert!(
            got == want,
            "S3: model.json of {ranks} ranks differs from the local thread pool's"
        );
    }
}

/// `mpirun -np ranks catclass extract <args> --executor mpi --threads 1`.
fn mpirun_extract(ranks: usize, args: &[String]) -> Output {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "--allow-run-as-root", "-np"])
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_catclass"))
        .arg("extract")
        .args(args)
        .args(["--executor", "mpi", "--threads", "1"]);
    run_guarded(cmd)
}

/// Every file of `dir`, by name, with its bytes.
fn files_in(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// Ranks split the images; the feature files, the shard and the manifest are the same bytes as
/// one process writes, for 2 and 3 ranks. A bad image on some rank is named, the job exits
/// non-zero, and every other image is extracted.
#[test]
fn extract_on_ranks_writes_what_one_process_writes() {
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/images");
    let imgs = tempfile::tempdir().unwrap();
    catclass_app::photos::photo_variants(
        &[
            (&photos.join("chelsea.jpg"), "cat"),
            (&photos.join("darknet-dog.jpg"), "dog"),
        ],
        4,
        9,
        imgs.path(),
    )
    .unwrap();
    let one = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_catclass"));
    cmd.arg("extract")
        .arg(imgs.path())
        .arg("--out")
        .arg(one.path());
    assert_success("extract on threads", &run_guarded(cmd));
    let expected = files_in(one.path());
    assert_eq!(
        expected.len(),
        8 + 2,
        "8 feature files, the shard and the manifest"
    );
    for ranks in [2, 3] {
        let out = tempfile::tempdir().unwrap();
        let run = mpirun_extract(
            ranks,
            &s(&[
                imgs.path().to_str().unwrap(),
                "--out",
                out.path().to_str().unwrap(),
            ]),
        );
        assert_success(&format!("extract on {ranks} ranks"), &run);
        assert_eq!(files_in(out.path()), expected, "{ranks} ranks");
    }

    std::fs::write(imgs.path().join("dog_9.png"), b"not a png").unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = mpirun_extract(
        3,
        &s(&[
            imgs.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "the job should fail:\n{stderr}");
    assert!(
        stderr.contains("dog_9.png") && stderr.contains("rank"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 9 images failed"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let written = files_in(out.path());
    assert_eq!(written.len(), 8 + 2);
    for (name, bytes) in &expected {
        if name.ends_with(".json") {
            assert_eq!(&written[name], bytes, "{name}");
        }
    }
}

/// Ranks that list different files (here: each rank started in its own folder, `features`
/// being relative, and rank 1's holding one file more) refuse to train, naming the rank,
/// instead of counting rows twice or training on a mismatch.
#[test]
fn ranks_that_see_different_files_refuse_to_work() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let pets = catclass_app::synthetic::pets_like(3, 3, 20, 16);
    common::features_of(&a, &pets);
    common::features_of(&b, &pets);
    let first = std::fs::read_dir(b.join("features"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let class = pets.classes[0].clone();
    std::fs::copy(
        &first,
        b.join("features").join(format!("{class}_9999.jpg.json")),
    )
    .unwrap();
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "--allow-run-as-root"]);
    for (i, dir) in [&a, &b].into_iter().enumerate() {
        if i > 0 {
            cmd.arg(":");
        }
        cmd.args(["-np", "1", "--wdir"])
            .arg(dir)
            .arg(env!("CARGO_BIN_EXE_catclass"))
            .args(["train", "features", &class, "None", "--out", "out"])
            .args(["--executor", "mpi", "--threads", "1"]);
    }
    let out = run_guarded(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("rank 1 of 2") && stderr.contains("differ from rank 0"),
        "{stderr}"
    );
    assert!(!a.join("out/model.json").exists() && !b.join("out/model.json").exists());
}

/// A rank killed mid-run (SIGKILL: no chance to say anything) ends the whole job with an
/// error naming it, instead of leaving the other rank waiting in a collective.
#[test]
fn a_rank_killed_mid_run_ends_the_job() {
    let tmp = tempfile::tempdir().unwrap();
    let pets = catclass_app::synthetic::pets_like(5, 2, 40, 64);
    let f = common::features_of(tmp.path(), &pets);
    let marker = tmp.path().join("killed-run");
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "--allow-run-as-root", "-np", "2"])
        .arg(env!("CARGO_BIN_EXE_catclass"))
        .args(["train", &f, &pets.classes[0], "None", "--out"])
        .arg(&marker)
        .args(["--iterations", "100000000", "--convergence-tol", "0"])
        .args(["--executor", "mpi", "--threads", "1"]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mpirun");
    // The ranks: processes named catclass whose command line names this run's folder.
    let marker_s = marker.to_string_lossy().into_owned();
    let ranks = || -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                comm.trim() == "catclass" && String::from_utf8_lossy(&cmdline).contains(&marker_s)
            })
            .collect()
    };
    let start = Instant::now();
    let mut found = ranks();
    while found.len() < 2 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        found = ranks();
    }
    assert_eq!(found.len(), 2, "two ranks running: {found:?}");
    // Let them get into training, then kill one.
    std::thread::sleep(Duration::from_millis(1500));
    let victim = *found.iter().max().unwrap();
    assert!(
        Command::new("kill")
            .args(["-9", &victim.to_string()])
            .status()
            .unwrap()
            .success()
    );
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            panic!("the job still runs 120 s after a rank was killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // Open MPI's own report: "process rank 1 ... exited on signal 9 (Killed)".
    assert!(
        (stderr.contains("rank 0") || stderr.contains("rank 1")) && stderr.contains("signal 9"),
        "the error names the rank and how it died: {stderr}"
    );
    assert!(ranks().is_empty(), "no rank left running");
    assert!(!marker.join("model.json").exists());
}
