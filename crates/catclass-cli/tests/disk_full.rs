//! A disk that fills up during a run: a clear error naming the file, a non-zero exit, no
//! partial or temporary file left, and the previous run's files as they were.
//!
//! Needs root (it mounts a 256 KiB tmpfs), so it is `#[ignore]`d in a plain `cargo test`;
//! `.ci/run` runs it as root with `--ignored`.

mod common;

use common::{assert_success, features};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A small tmpfs mounted for the test's life.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path) -> SmallDisk {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount(8)");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(dir.to_path_buf())
    }

    /// Fills the disk but `free` bytes (roughly: tmpfs counts whole pages).
    fn fill_leaving(&self, free: usize) {
        let filler = self.0.join("filler");
        let _ = std::fs::remove_file(&filler);
        let avail = 256 * 1024 - used(&self.0);
        std::fs::write(&filler, vec![0u8; avail.saturating_sub(free)]).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Bytes used by the files under `dir` (rounded up to 4 KiB pages).
fn used(dir: &Path) -> usize {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            total += used(&e.path());
        } else {
            total += (e.metadata().unwrap().len() as usize).div_ceil(4096) * 4096;
        }
    }
    total
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "needs root to mount a tmpfs; .ci/run runs it with --ignored"]
fn a_full_disk_is_an_error_and_leaves_what_was_there() {
    let tmp = tempfile::tempdir().unwrap();
    let f = features(tmp.path(), 3, 2048);
    let mnt = tmp.path().join("disk");
    std::fs::create_dir(&mnt).unwrap();
    let disk = SmallDisk::mount(&mnt);
    let run = mnt.join("run");
    let train = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_catclass"))
            .args([
                "train",
                &f,
                "Abyssinian",
                "Bengal",
                "--iterations",
                "5",
                "--out",
            ])
            .arg(out)
            .output()
            .unwrap()
    };
    assert_success("the first run", &train(&run));
    let before = snapshot(&run);
    assert!(before.iter().any(|(n, _)| n == "model.json"));

    // Full: the rerun into the same folder fails, naming the file and the cause.
    disk.fill_leaving(0);
    let out = train(&run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains(run.to_str().unwrap()), "{stderr}");
    assert_eq!(snapshot(&run), before, "the previous run's files changed");

    // Room for some files but not all, into a new folder: what is there is whole, and the
    // model (written last) is not there without its report.
    for free in [4096, 8192, 12288] {
        disk.fill_leaving(free);
        let fresh = mnt.join(format!("fresh-{free}"));
        let out = train(&fresh);
        assert_ne!(out.status.code(), Some(0));
        if fresh.exists() {
            let files = snapshot(&fresh);
            for (name, bytes) in &files {
                assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
                if name.ends_with(".json") {
                    serde_json::from_slice::<serde_json::Value>(bytes)
                        .unwrap_or_else(|e| panic!("{name} is not whole: {e}"));
                }
            }
            if files.iter().any(|(n, _)| n == "model.json") {
                assert!(files.iter().any(|(n, _)| n == "report.json"));
            }
        }
    }
}
