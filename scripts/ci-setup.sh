#!/usr/bin/env bash
# The CI bootstrap: everything catclass-svm's tests, MPI mode, fuzzing and benches need on a Debian
# machine with rustup (idempotent; the registries are the only network used). A user who only
# builds and runs catclass needs none of it: see the README's Quick start.
set -euo pipefail
cd "$(dirname "$0")/.."

# Open MPI + libclang for the `mpi` feature (cluster mode), shellcheck for deploy/aws scripts.
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v mpirun >/dev/null || ! command -v shellcheck >/dev/null || ! dpkg -s libclang-dev >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    libopenmpi-dev openmpi-bin libclang-dev clang pkg-config shellcheck >/dev/null
fi

rustup component add rustfmt clippy
rustup target add thumbv7em-none-eabihf

# Python reference checks: Spark's sampler statement and the numpy loop (tests and benches);
# Pillow and Keras' own preprocessing (exact-preprocessing tests), onnx (the tests build a
# VGG16-shaped graph), onnxruntime (features and speed compared with it); jax is Keras' backend.
python3 -m pip install --quiet --disable-pip-version-check \
  numpy pillow onnx onnxruntime keras jax

# Fuzzing (runs on stable with `-s none`).
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz@0.13.1 --locked

# A real S3 server (checks SigV4 signatures) for the S3 tests, started by the tests on loopback.
command -v s3s-fs >/dev/null || cargo install s3s-fs@0.14.1 --features binary --locked
