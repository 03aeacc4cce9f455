#!/bin/bash
# OnNodeConfigured action of cluster.yaml: installs the catclass binary (built with
# `--features mpi` against the same Open MPI major version as the cluster's) on every node.
# Usage: install-catclass.sh s3://BUCKET/PREFIX/catclass
set -euo pipefail
binary_url="${1:?usage: install-catclass.sh s3://BUCKET/PREFIX/catclass}"
aws s3 cp "$binary_url" /usr/local/bin/catclass
chmod 755 /usr/local/bin/catclass
