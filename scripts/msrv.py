#!/usr/bin/env python3
"""Checks that the workspace's `rust-version` is the real minimum it can claim.

The toolchain of that version cannot be installed where CI runs (only the package registries
are reachable), so the minimum is computed: the highest `rust-version` declared by any package
of the resolved dependency graph (the default features, or those given, all platforms), and the language features
the code itself uses (edition 2024: 1.85; `if let ... &&` chains: 1.88). Fails when the
workspace declares less (it would not build there) or more (it would refuse toolchains that
work). Usage: python3 scripts/msrv.py [--features ...] (from the repository root); with
--report, prints the minimum without failing.
"""
import json
import subprocess
import sys

OWN_CODE = (1, 88)  # let-chains (stable in 1.88, edition 2024)


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple((parts + [0, 0])[:2])


REPORT = "--report" in sys.argv
FEATURES = [a for a in sys.argv[1:] if a != "--report"]  # e.g. --features catclass-cli/burn; default: the default features
meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked", "-q"] + FEATURES))
members = set(meta["workspace_members"])
resolved = {n["id"] for n in meta["resolve"]["nodes"]}
declared = {}
highest, why = OWN_CODE, "let-chains in this code"
for p in meta["packages"]:
    if p["id"] not in resolved:
        continue
    if p["id"] in members:
        declared[p["name"]] = p.get("rust_version")
        continue
    rv = p.get("rust_version")
    if rv and version(rv) > highest:
        highest, why = version(rv), f'{p["name"]} {p["version"]} declares {rv}'
ours = {v for v in declared.values()}
if len(ours) != 1 or None in ours:
    sys.exit(f"every workspace crate must declare the same rust-version, found {declared}")
ours = version(ours.pop())
need = ".".join(map(str, highest))
print(f"minimum Rust: {need} ({why}); declared: {'.'.join(map(str, ours))}")
if ours != highest and not REPORT:
    sys.exit(f"rust-version should be {need}")
