#!/bin/bash
# EMR step (runs on the primary node, via command-runner.jar): one catclass rank per core
# node, started by mpirun over ssh; every rank reads its own shard from S3.
# Usage: catclass-step.sh FEATURES CLASS_A CLASS_B OUT [extra catclass train flags...]
set -euo pipefail
features="${1:?usage: catclass-step.sh s3://BUCKET/features CLASS_A CLASS_B|None s3://BUCKET/out [flags]}"
class_a="${2:?missing CLASS_A}"
class_b="${3:?missing CLASS_B (or None)}"
out="${4:?missing OUT}"
shift 4
# The core nodes, from YARN's node list (one rank each).
hostfile="$(mktemp)"
yarn node -list 2>/dev/null | awk 'NR > 2 { split($1, a, ":"); print a[1] " slots=1" }' > "$hostfile"
nodes="$(wc -l < "$hostfile")"
if [ "$nodes" -eq 0 ]; then
    echo "no core node found in 'yarn node -list'" >&2
    exit 1
fi
export PATH="/usr/lib64/openmpi/bin:$PATH"
mpirun -np "$nodes" --hostfile "$hostfile" --map-by ppr:1:node --bind-to none \
    -x AWS_REGION -x AWS_DEFAULT_REGION \
    /usr/local/bin/catclass train "$features" "$class_a" "$class_b" \
    --executor mpi --threads 0 --out "$out" "$@"
