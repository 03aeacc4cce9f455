//! Reading a folder of the seed's JSON feature files from a real S3 server (s3s-fs on
//! loopback): one GET after another, as the seed did, against bounded concurrent GETs.
//!
//! `cargo bench -p catclass-store --bench s3_reads`
//! (`CATCLASS_S3_BENCH_FILES`, default 2000, and `CATCLASS_S3_BENCH_DIM`, default 1280, size
//! the data; the s3s-fs binary must be installed, see catclass-testkit.)

#[path = "../tests/common/mod.rs"]
mod common;
use catclass_store::{FeatureCatalog, StoreOptions, feature_json};
use catclass_testkit::{ACCESS_KEY, REGION, S3Server, SECRET_KEY};
use common::block_on;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::{StreamExt, TryStreamExt};
use std::time::Duration;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn options(server: &S3Server, concurrency: usize) -> StoreOptions {
    StoreOptions {
        concurrency,
        ..StoreOptions::s3_endpoint(&server.endpoint(), ACCESS_KEY, SECRET_KEY, REGION)
    }
}

/// Uploads `files` feature files of `dim` values, named like Oxford-IIIT Pet's.
fn upload(server: &S3Server, files: usize, dim: usize) {
    let loc = common::create("s3://bench/features", &options(server, 64)).expect("location");
    block_on(
        futures::stream::iter(0..files)
            .map(|i| {
                let loc = loc.clone();
                async move {
                    let mut state = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    let values: Vec<f32> = (0..dim)
                        .map(|_| {
                            state = state
                                .wrapping_mul(6_364_136_223_846_793_005)
                                .wrapping_add(1_442_695_040_888_963_407);
                            ((state >> 40) as f32) / (1u64 << 24) as f32 * 8.0
                        })
                        .collect();
                    let name = format!("breed{}_{}.jpg.json", i % 37, i + 1);
                    loc.put(&name, feature_json::to_json(&values).into_bytes())
                        .await
                }
            })
            .buffer_unordered(32)
            .try_collect::<Vec<()>>(),
    )
    .expect("upload");
}

fn read(server: &S3Server, concurrency: usize) -> usize {
    let opts = options(server, concurrency);
    let set = block_on(async {
        let loc = common::open("s3://bench/features", &opts)?;
        let cat = FeatureCatalog::list(&loc).await?;
        cat.read(cat.entries(), concurrency, &|_| {}).await
    })
    .expect("read");
    set.rows()
}

fn bench(c: &mut Criterion) {
    let files = env_usize("CATCLASS_S3_BENCH_FILES", 2000);
    let dim = env_usize("CATCLASS_S3_BENCH_DIM", 1280);
    let server = S3Server::start_with_bucket("bench").expect("start s3s-fs");
    upload(&server, files, dim);
    let mut group = c.benchmark_group(format!("s3_read_{files}_json_files_of_{dim}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    for concurrency in [1, 8, 64] {
        let name = if concurrency == 1 {
            "sequential_gets".to_string()
        } else {
            format!("concurrent_gets_{concurrency}")
        };
        group.bench_function(name, |b| {
            b.iter(|| assert_eq!(read(&server, concurrency), files));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
