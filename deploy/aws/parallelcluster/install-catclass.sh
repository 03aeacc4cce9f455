#!/bin/bash
# OnNodeConfigured action of cluster.yaml: installs the catclass binary (built with
# `--features mpi` against the same Open MPI major version as the cluster's) on every node.
# Usage: install-catclass.sh s3://BUCKET/PREFIX/catclass
set -euo pipefail
binary_url="${1:?usage: install-catclass.sh s3://BUCKET/PREFIX/catclass}"
# Installed only if it matches catclass.sha256 uploaded beside it (`sha256sum catclass >
# catclass.sha256`), replacing the old binary in one rename.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
aws s3 cp "$binary_url" "$work/catclass"
aws s3 cp "$binary_url.sha256" "$work/catclass.sha256"
(cd "$work" && sha256sum -c catclass.sha256)
install -m 755 "$work/catclass" /usr/local/bin/.catclass.new
mv /usr/local/bin/.catclass.new /usr/local/bin/catclass
