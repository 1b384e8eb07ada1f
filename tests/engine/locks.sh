#!/usr/bin/env bash
# Record in the repository's lock files (builder.lock, profiles/*.lock) the digests of
# the stand-in bases that bases.sh made on this machine.
#
# A real project's bases come from a registry, and its lock changes only through
# `oh-builder lock --update`, reviewed like any change. These bases are made here (no
# Docker Hub): on a new machine, or after a reseed, they are new images with new
# digests, and the locks must follow them or nothing builds. `git diff` shows it.
set -euo pipefail
cd "$(dirname "$0")/../.."
OH_BUILDER=${OH_BUILDER:-.venv/bin/oh-builder}
for config in builder.toml profiles/*.toml; do
  rc=0
  "$OH_BUILDER" lock -q --check -c "$config" >/dev/null 2>&1 || rc=$?
  case $rc in
    0) ;;
    7) echo "locks: $config: recording the digests of the bases made on this machine"
       "$OH_BUILDER" lock --update -c "$config" ;;
    *) "$OH_BUILDER" lock -q --check -c "$config" ;;  # say why, and fail
  esac
done
