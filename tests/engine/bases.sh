#!/usr/bin/env bash
# Seed the local registry (127.0.0.1:5000) with offline base images for the tests.
#
# - debian:bookworm, debian:trixie and debian:sid (linux/amd64 + linux/arm64; sid's
#   glibc is newer than the bundle's), pushed as
#   127.0.0.1:5000/library/debian:SUITE so the Docker Hub mirror serves them
#   under their real names;
# - test bases under 127.0.0.1:5000/oh-test/ built from Debian packages
#   (busybox only, musl only, no shell, uid 1000 taken, a base that sets its own
#   environment, preloads and names NSS modules).
# debootstrap output is cached as tarballs keyed by suite and architecture, so
# a warm machine reseeds in seconds; images already in the registry are skipped.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REGISTRY="127.0.0.1:5000"
CACHE_DIR="${OH_BASES_CACHE:-/var/cache/oh-builder/debootstrap}"
LOG_DIR="${OH_ENGINE_LOG_DIR:-/var/log/oh-builder}"
SUITES=(bookworm trixie sid)
ARCHES=(amd64 arm64)
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${OH_DEBIAN_MIRROR:-${MIRROR:-http://deb.debian.org/debian}}

say() { printf 'bases: %s\n' "$*"; }
die() { printf 'bases: error: %s\n' "$*" >&2; exit 1; }

# True when REF (repo:tag under $REGISTRY) has a manifest for both platforms.
in_registry() {
  docker buildx imagetools inspect --raw "$REGISTRY/$1" 2>/dev/null | python3 -c '
import json, sys
try:
    m = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
plats = {p["platform"]["architecture"] for p in m.get("manifests", []) if "platform" in p}
sys.exit(0 if {"amd64", "arm64"} <= plats else 1)'
}

debootstrap_tar() {  # suite arch -> cached tarball
  local suite=$1 arch=$2 tar="$CACHE_DIR/$1-$2.tar" root
  [ -s "$tar" ] && return 0
  root=$(mktemp -d "$CACHE_DIR/.root-$suite-$arch.XXXX")
  say "debootstrap $suite/$arch (log: $LOG_DIR/debootstrap-$suite-$arch.log)"
  if ! debootstrap --variant=minbase --arch="$arch" "$suite" "$root" "$MIRROR" \
      >"$LOG_DIR/debootstrap-$suite-$arch.log" 2>&1; then
    rm -rf "$root"; die "debootstrap $suite/$arch failed; see $LOG_DIR/debootstrap-$suite-$arch.log"
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$root"
}

seed_debian() {
  local todo=()
  for suite in "${SUITES[@]}"; do
    in_registry "library/debian:$suite" && { say "debian:$suite already seeded"; continue; }
    todo+=("$suite")
  done
  [ ${#todo[@]} = 0 ] && return 0
  mkdir -p "$CACHE_DIR" "$LOG_DIR"
  local pids=()
  for suite in "${todo[@]}"; do
    for arch in "${ARCHES[@]}"; do
      debootstrap_tar "$suite" "$arch" & pids+=($!)
    done
  done
  for p in "${pids[@]}"; do wait "$p" || die "debootstrap failed"; done
  for suite in "${todo[@]}"; do
    say "pushing $REGISTRY/library/debian:$suite (amd64, arm64)"
    docker buildx build --quiet --provenance=false --push \
      --platform linux/amd64,linux/arm64 \
      --build-arg SUITE="$suite" \
      -f "$HERE/bases/debian.Dockerfile" -t "$REGISTRY/library/debian:$suite" \
      "$CACHE_DIR" >/dev/null
  done
}

seed_test_bases() {
  # Built from the debian image just seeded, for both platforms, in one bake. A stamp
  # of their sources makes an edited recipe reseed them.
  local missing=0 stamp
  stamp=$(cat "$HERE"/bases/test-bases.* | sha256sum | cut -c1-16)
  for ref in oh-test/busybox:static oh-test/musl:latest oh-test/noshell:latest oh-test/uid1000:bookworm; do
    in_registry "$ref" || missing=1
  done
  [ "$(cat "$CACHE_DIR/test-bases.stamp" 2>/dev/null)" = "$stamp" ] || missing=1
  [ $missing = 0 ] && { say "test bases already seeded"; return 0; }
  say "building test bases (busybox, musl, noshell, uid1000)"
  docker buildx bake --progress=plain -f "$HERE/bases/test-bases.hcl" --push \
    >"$LOG_DIR/test-bases.log" 2>&1 || die "building the test bases failed; see $LOG_DIR/test-bases.log"
  mkdir -p "$CACHE_DIR" && echo "$stamp" >"$CACHE_DIR/test-bases.stamp"
}

main() {
  curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 || die "no registry on $REGISTRY; run 'make engine' first"
  local t0=$SECONDS
  seed_debian
  seed_test_bases
  say "ready in $((SECONDS - t0)) s; cache: $(du -sh "$CACHE_DIR" 2>/dev/null | cut -f1) in $CACHE_DIR"
}

main "$@"
