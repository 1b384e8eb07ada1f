#!/usr/bin/env bash
# A BuildKit daemon beside dockerd, and a buildx builder on it (`remote` driver, unix socket).
#
# buildkitd is built once from Debian sid's Go source packages (buildkitd/: the recipe, its
# package list and patch) and kept under $OH_CACHE_DIR, keyed by the recipe's hash, so a
# warm machine only starts it. Debian's package lists for sid live in a private apt
# directory there: the machine's own apt sources do not move. Idempotent: a running
# daemon and an existing builder are left alone. Called by engine.sh.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR="${OH_CACHE_DIR:-/var/cache/oh-builder}"
STATE_DIR="${OH_ENGINE_DIR:-/var/lib/oh-builder-engine}"
LOG_DIR="${OH_ENGINE_LOG_DIR:-/var/log/oh-builder}"
RUN_DIR="${OH_BUILDKITD_RUN_DIR:-/run/oh-builder}"
BUILDER="${OH_BUILDKITD_BUILDER:-oh-buildkitd}"
OLD_BUILDX_CONFIG="${OLD_BUILDX_CONFIG:-$CACHE_DIR/buildx-0.13}"
REGISTRY_ADDR="127.0.0.1:5000"
# The TLS registry's CA (engine.sh makes it under the engine's state directory).
TLS_REGISTRY_ADDR="oh-registry.test:5443"
FLAKY_REGISTRY_ADDR="127.0.0.1:5001"
SCRATCH_REGISTRY_ADDR="127.0.0.1:5002"
TLS_CA="${OH_TLS_CA:-${OH_MAIN_ENGINE_DIR:-/var/lib/oh-builder-engine}/registry-tls/ca.crt}"
SOCK="$RUN_DIR/buildkitd.sock"

say() { printf 'buildkitd: %s\n' "$*"; }
die() { printf 'buildkitd: error: %s\n' "$*" >&2; exit 1; }

key=$(cat "$HERE"/buildkitd/* | sha256sum | cut -c1-12)
BIN="$CACHE_DIR/buildkitd/buildkitd-$key"

ensure_binary() {
  [ -x "$BIN" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "no buildkitd at $BIN; building it needs root and apt-get (Debian)"
  fi
  local apt="$CACHE_DIR/apt-sid" uri keyring
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  keyring=$(awk '/^Signed-By:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$CACHE_DIR/buildkitd"
  echo "deb [signed-by=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}] ${uri:-http://deb.debian.org/debian} sid main" \
    >"$apt/sources.list"
  local opts="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=$apt/none"
  opts+=" -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache"
  opts+=" -o Dir::Etc::Preferences=$apt/none -o Dir::Etc::PreferencesParts=$apt/none"
  command -v patch >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patch >/dev/null
  say "building buildkitd from Debian sid's source packages (once; log: $LOG_DIR/buildkitd-build.log)"
  # shellcheck disable=SC2086
  apt-get $opts update >"$LOG_DIR/buildkitd-build.log" 2>&1 || die "apt-get update (sid) failed; see $LOG_DIR/buildkitd-build.log"
  local start=$SECONDS work="$CACHE_DIR/buildkitd-build"
  rm -rf "$work"
  APT_OPTS="$opts" WORK="$work" OUT="$BIN.tmp" bash "$HERE/buildkitd/build-buildkitd.sh" \
    >>"$LOG_DIR/buildkitd-build.log" 2>&1 || die "building buildkitd failed; see $LOG_DIR/buildkitd-build.log (and $work/download.log)"
  mv "$BIN.tmp" "$BIN"
  rm -rf "$work"  # 1.5 GB of sources and Go cache; the binary is what is kept
  say "built $BIN in $((SECONDS - start)) s"
}

write_config() {
  mkdir -p "$STATE_DIR"
  cat >"$STATE_DIR/buildkitd.toml.new" <<TOML
# Written by tests/engine/buildkitd.sh.
[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  gc = true
  reservedSpace = "10GB"
  maxUsedSpace = "40GB"
  minFreeSpace = "32GB"
[worker.containerd]
  enabled = false
[registry."docker.io"]
  mirrors = ["$REGISTRY_ADDR"]
[registry."$REGISTRY_ADDR"]
  http = true
  insecure = true
[registry."$TLS_REGISTRY_ADDR"]
  ca = ["$TLS_CA"]
# The e2e suite's fault-injecting proxy in front of $REGISTRY_ADDR (tests/e2e/faults.py):
# plain HTTP only (with insecure = true BuildKit tries HTTPS first and, after an answer
# it did not like, reports that try's TLS error instead of the registry's).
[registry."$FLAKY_REGISTRY_ADDR"]
  http = true
# A registry of its own that the fault tests kill and fill (tests/e2e/faults.py).
[registry."$SCRATCH_REGISTRY_ADDR"]
  http = true
TOML
  if cmp -s "$STATE_DIR/buildkitd.toml.new" "$STATE_DIR/buildkitd.toml"; then
    rm "$STATE_DIR/buildkitd.toml.new"
    return 1
  fi
  mv "$STATE_DIR/buildkitd.toml.new" "$STATE_DIR/buildkitd.toml"
}

running() {
  [ -S "$SOCK" ] && [ -f "$STATE_DIR/buildkitd.pid" ] && kill -0 "$(cat "$STATE_DIR/buildkitd.pid")" 2>/dev/null
}

ensure_daemon() {
  local changed=0
  write_config && changed=1
  if running && [ "$changed" = 0 ] && [ "$(readlink "/proc/$(cat "$STATE_DIR/buildkitd.pid")/exe")" = "$BIN" ]; then
    say "running ($BIN, socket $SOCK)"
    return 0
  fi
  if running; then
    say "restarting (new binary or config)"
    kill "$(cat "$STATE_DIR/buildkitd.pid")"
    for _ in $(seq 30); do running || break; sleep 1; done
  fi
  mkdir -p "$RUN_DIR" "$STATE_DIR/buildkit"
  rm -f "$SOCK"
  say "starting $BIN (log: $LOG_DIR/buildkitd.log, state: $STATE_DIR/buildkit)"
  setsid nohup "$BIN" --config "$STATE_DIR/buildkitd.toml" --root "$STATE_DIR/buildkit" \
    --addr "unix://$SOCK" >"$LOG_DIR/buildkitd.log" 2>&1 &
  echo $! >"$STATE_DIR/buildkitd.pid"
  for _ in $(seq 60); do [ -S "$SOCK" ] && return 0; sleep 0.5; done
  die "buildkitd did not open $SOCK in 30 s; see $LOG_DIR/buildkitd.log"
}

# The builder, for the current buildx and for the old one (its own DOCKER_CONFIG).
ensure_builder() {
  local config
  for config in "" "$OLD_BUILDX_CONFIG"; do
    [ -n "$config" ] && [ ! -x "$config/cli-plugins/docker-buildx" ] && continue
    if ! DOCKER_CONFIG=${config:-${DOCKER_CONFIG:-$HOME/.docker}} docker buildx inspect "$BUILDER" >/dev/null 2>&1; then
      DOCKER_CONFIG=${config:-${DOCKER_CONFIG:-$HOME/.docker}} docker buildx create --name "$BUILDER" \
        --driver remote "unix://$SOCK" >/dev/null || die "docker buildx create $BUILDER failed"
    fi
  done
  local out
  out=$(docker buildx inspect --bootstrap "$BUILDER" 2>&1) || die "builder $BUILDER does not answer: $out"
  say "builder $BUILDER: $(awk -F': *' '/^BuildKit version:/{print "BuildKit " $2} /^Platforms:/{print $2}' <<<"$out" | paste -sd ' ' -)"
}

ensure_binary
ensure_daemon
ensure_builder
