#!/bin/bash
# EMR bootstrap action (runs on every node): installs Open MPI and the catclass binary, and
# lets the hadoop user ssh between nodes for mpirun.
# Usage (bootstrap action arguments): s3://BUCKET/PREFIX/catclass s3://BUCKET/PREFIX/id_ed25519
set -euo pipefail
binary_url="${1:?usage: bootstrap-catclass.sh s3://.../catclass s3://.../id_ed25519}"
key_url="${2:?usage: bootstrap-catclass.sh s3://.../catclass s3://.../id_ed25519}"
sudo yum install -y openmpi
# The binary is installed only if it matches catclass.sha256 uploaded beside it
# (`sha256sum catclass > catclass.sha256`), and replaces the old one in one rename.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
aws s3 cp "$binary_url" "$work/catclass"
aws s3 cp "$binary_url.sha256" "$work/catclass.sha256"
(cd "$work" && sha256sum -c catclass.sha256)
sudo install -m 755 "$work/catclass" /usr/local/bin/.catclass.new
sudo mv /usr/local/bin/.catclass.new /usr/local/bin/catclass
# A cluster-wide key pair (made once: ssh-keygen -t ed25519 -N '' -f id_ed25519, then
# uploaded next to the binary) so that mpirun on the primary node reaches the core nodes.
# umask 077: the private key is never readable by others, not even between copy and chmod.
umask 077
mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
aws s3 cp "$key_url" "$HOME/.ssh/id_ed25519"
aws s3 cp "$key_url.pub" "$HOME/.ssh/id_ed25519.pub"
chmod 600 "$HOME/.ssh/id_ed25519"
cat "$HOME/.ssh/id_ed25519.pub" >> "$HOME/.ssh/authorized_keys"
chmod 600 "$HOME/.ssh/authorized_keys"
printf 'Host *\n  StrictHostKeyChecking accept-new\n' >> "$HOME/.ssh/config"
chmod 600 "$HOME/.ssh/config"
