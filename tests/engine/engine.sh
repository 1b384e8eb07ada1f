#!/usr/bin/env bash
# Ensure a BuildKit engine, a local registry on 127.0.0.1:5000 and arm64 emulation.
#
# On a machine that already has them it only checks and reports. On a bare
# Debian/Ubuntu machine as root it installs them from the distribution's
# packages (Docker Engine + buildx from Debian trixie, pinned low) and starts
# them. Idempotent: healthy services are left alone.
set -euo pipefail

STATE_DIR="${OH_ENGINE_DIR:-/var/lib/oh-builder-engine}"
LOG_DIR="${OH_ENGINE_LOG_DIR:-/var/log/oh-builder}"
CACHE_DIR="${OH_CACHE_DIR:-/var/cache/oh-builder}"
REGISTRY_ADDR="127.0.0.1:5000"
# A registry like a real one beside it: TLS with a CA made here, htpasswd logins, under
# a name (/etc/hosts: 127.0.0.1): buildx speaks plain HTTP to any loopback address.
TLS_REGISTRY_NAME="oh-registry.test"
TLS_REGISTRY_ADDR="$TLS_REGISTRY_NAME:5443"
TLS_DIR="$STATE_DIR/registry-tls"
TLS_USER="oh-test"
MIN_BUILDX="0.11"
# The buildx in use: Debian sid's (current), pinned low like trixie. Debian stable's 0.13.1
# stays runnable beside it for the compatibility checks: DOCKER_CONFIG=$OLD_BUILDX_CONFIG.
WANT_BUILDX="0.29"
OLD_BUILDX_CONFIG="$CACHE_DIR/buildx-0.13"

say()  { printf 'engine: %s\n' "$*"; }
die()  { printf 'engine: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

buildx_version() { docker buildx version 2>/dev/null | awk '{print $2}' | sed 's/^v//; s/[-+].*//'; }

can_provision() { [ "$(id -u)" = 0 ] && have apt-get; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 || die "apt-get update failed; see $LOG_DIR/apt.log"
    apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get install $* failed; see $LOG_DIR/apt.log"
}

# A deb822 source for another Debian suite on the same mirror and keyring, pinned low so
# nothing moves unless asked for with -t SUITE.
add_suite_source() {
  local suite=$1 priority=$2
  # shellcheck source=/dev/null
  . /etc/os-release
  [ "${VERSION_CODENAME:-}" = "$suite" ] && return 0
  [ -f "/etc/apt/sources.list.d/oh-$suite.sources" ] && return 0
  local uri keyring
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  keyring=$(awk '/^Signed-By:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uri=${uri:-http://deb.debian.org/debian}
  keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
  cat >"/etc/apt/sources.list.d/oh-$suite.sources" <<SRC
Types: deb
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring
SRC
  cat >"/etc/apt/preferences.d/oh-$suite" <<PIN
Package: *
Pin: release n=$suite
Pin-Priority: $priority
PIN
  apt_updated=0
}

# Bookworm's docker.io (20.10) has no buildx; trixie's packages install on bookworm.
add_trixie_source() { add_suite_source trixie 100; }

ensure_packages() {
  local missing=()
  have dockerd || missing+=(docker.io)
  [ -x /usr/libexec/docker/cli-plugins/docker-buildx ] || [ -x /usr/lib/docker/cli-plugins/docker-buildx ] \
    || version_ge "$(buildx_version || echo 0)" "$MIN_BUILDX" || missing+=(docker-buildx)
  have docker-registry || missing+=(docker-registry)
  have qemu-aarch64-static || missing+=(qemu-user-static)
  have update-binfmts || missing+=(binfmt-support)
  have debootstrap || missing+=(debootstrap)
  have htpasswd || missing+=(apache2-utils)
  have openssl || missing+=(openssl)
  [ ${#missing[@]} = 0 ] && return 0
  can_provision || die "missing: ${missing[*]}. Install Docker Engine with buildx >= $MIN_BUILDX, a registry on $REGISTRY_ADDR and qemu binfmt, or run this as root on Debian/Ubuntu."
  local trixie=()
  for p in "${missing[@]}"; do
    case $p in docker.io|docker-buildx) trixie+=("$p") ;; esac
  done
  if [ ${#trixie[@]} -gt 0 ]; then
    add_trixie_source
    apt_install -t trixie docker.io docker-cli docker-buildx
  fi
  local rest=()
  for p in "${missing[@]}"; do
    case $p in docker.io|docker-buildx) ;; *) rest+=("$p") ;; esac
  done
  [ ${#rest[@]} -gt 0 ] && apt_install "${rest[@]}"
  return 0
}

ensure_daemon_config() {
  mkdir -p /etc/docker
  local want='{"features":{"containerd-snapshotter":true},"registry-mirrors":["http://'"$REGISTRY_ADDR"'"]}'
  if [ ! -f /etc/docker/daemon.json ] || ! python3 - "$want" <<'PY'
import json, sys
have = json.load(open("/etc/docker/daemon.json"))
want = json.loads(sys.argv[1])
ok = have.get("features", {}).get("containerd-snapshotter") is True and \
     "http://127.0.0.1:5000" in have.get("registry-mirrors", [])
sys.exit(0 if ok else 1)
PY
  then
    say "writing /etc/docker/daemon.json (containerd image store, registry mirror)"
    printf '%s\n' "$want" >/etc/docker/daemon.json
    if docker info >/dev/null 2>&1 && [ -f "$STATE_DIR/dockerd.pid" ]; then
      say "restarting dockerd for the new config"
      kill "$(cat "$STATE_DIR/dockerd.pid")" || true
      for _ in $(seq 30); do docker info >/dev/null 2>&1 || break; sleep 1; done
    fi
  fi
}

ensure_daemon() {
  if docker info >/dev/null 2>&1; then
    say "docker daemon: running ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  can_provision || die "the docker daemon is not running. Start Docker (e.g. 'sudo systemctl start docker') and run again."
  have dockerd || die "dockerd is not installed"
  say "starting dockerd (log: $LOG_DIR/dockerd.log)"
  setsid nohup dockerd >"$LOG_DIR/dockerd.log" 2>&1 &
  echo $! >"$STATE_DIR/dockerd.pid"
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && { say "docker daemon: started"; return 0; }
    sleep 1
  done
  die "dockerd did not become ready in 60 s; see $LOG_DIR/dockerd.log"
}

check_buildx() {
  local v
  v=$(buildx_version || true)
  [ -n "$v" ] || die "docker buildx is missing. Install the buildx plugin >= $MIN_BUILDX (Debian: docker-buildx)."
  version_ge "$v" "$MIN_BUILDX" || die "docker buildx $v is older than $MIN_BUILDX; upgrade the buildx plugin."
  # The default 'docker' driver needs the containerd image store for multi-platform and cache export.
  local driver store
  driver=$(docker buildx inspect 2>/dev/null | awk -F': *' '/^Driver:/{print $2; exit}')
  store=$(docker info -f '{{.DriverStatus}}' 2>/dev/null)
  if [ "$driver" = docker ] && ! grep -q 'io.containerd.snapshotter' <<<"$store"; then
    die "buildx driver 'docker' without the containerd image store cannot export registry cache or build multi-platform; set {\"features\":{\"containerd-snapshotter\":true}} in /etc/docker/daemon.json or use a docker-container builder."
  fi
  say "buildx: $v, driver ${driver:-unknown}"
}

# Debian sid's docker-buildx (0.29.x) as the plugin docker runs; needs libc6 >= 2.34 only.
ensure_current_buildx() {
  version_ge "$(buildx_version || echo 0)" "$WANT_BUILDX" && return 0
  can_provision || { say "buildx $(buildx_version || echo missing) (the current buildx is $WANT_BUILDX; Debian sid: docker-buildx)"; return 0; }
  add_suite_source sid 50
  apt_install -t sid docker-buildx
  version_ge "$(buildx_version || echo 0)" "$WANT_BUILDX" || die "docker buildx from sid is $(buildx_version), not >= $WANT_BUILDX; see $LOG_DIR/apt.log"
}

# Debian stable's buildx 0.13.1, unpacked (not installed) into a DOCKER_CONFIG of its own.
ensure_old_buildx() {
  local plugin="$OLD_BUILDX_CONFIG/cli-plugins/docker-buildx"
  [ -x "$plugin" ] && return 0
  can_provision || return 0
  add_trixie_source
  [ "$apt_updated" = 1 ] || { apt-get update -qq >>"$LOG_DIR/apt.log" 2>&1; apt_updated=1; }
  local tmp
  tmp=$(mktemp -d)
  say "unpacking buildx 0.13.1 (Debian trixie) into $OLD_BUILDX_CONFIG"
  (cd "$tmp" && chmod 0755 . && apt-get download -t trixie 'docker-buildx=0.13.*' >>"$LOG_DIR/apt.log" 2>&1) \
    || die "apt-get download docker-buildx (trixie) failed; see $LOG_DIR/apt.log"
  dpkg-deb -x "$tmp"/docker-buildx_*.deb "$tmp/root"
  mkdir -p "$OLD_BUILDX_CONFIG/cli-plugins"
  install -m 0755 "$tmp/root/usr/libexec/docker/cli-plugins/docker-buildx" "$plugin.tmp"
  mv "$plugin.tmp" "$plugin"
  rm -rf "$tmp"
}

registry_up() { python3 - "$REGISTRY_ADDR" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}/v2/", timeout=2)
except Exception:
    sys.exit(1)
PY
}

ensure_registry() {
  if registry_up; then say "registry: $REGISTRY_ADDR answering"; return 0; fi
  have docker-registry || die "no registry on $REGISTRY_ADDR and docker-registry is not installed (Debian: docker-registry)."
  mkdir -p "$STATE_DIR/registry"
  cat >"$STATE_DIR/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YML
  say "starting registry on $REGISTRY_ADDR (log: $LOG_DIR/registry.log, data: $STATE_DIR/registry)"
  # Its own session: it outlives the shell (and the job or terminal) that started it.
  setsid nohup docker-registry serve "$STATE_DIR/registry.yml" >"$LOG_DIR/registry.log" 2>&1 &
  echo $! >"$STATE_DIR/registry.pid"
  for _ in $(seq 30); do registry_up && return 0; sleep 0.5; done
  die "registry did not answer on $REGISTRY_ADDR; see $LOG_DIR/registry.log"
}

tls_registry_up() { python3 - "$TLS_REGISTRY_ADDR" "$TLS_DIR/ca.crt" <<'PY'
import ssl, sys, urllib.error, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
try:
    urllib.request.urlopen(f"https://{sys.argv[1]}/v2/", timeout=2, context=ctx)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 401 else 1)  # it answers, and wants a login
except Exception:
    sys.exit(1)
PY
}

# The CA, the registry's certificate (127.0.0.1, localhost) and the login, made once;
# trusted where each client looks: dockerd (certs.d), the BuildKit daemon (its config,
# buildkitd.sh) and buildx's own registry calls, imagetools (the system's store).
ensure_tls_material() {
  mkdir -p "$TLS_DIR/data"
  grep -qE "^127\.0\.0\.1[[:space:]]+$TLS_REGISTRY_NAME\$" /etc/hosts \
    || printf '127.0.0.1\t%s\n' "$TLS_REGISTRY_NAME" >>/etc/hosts
  if [ ! -s "$TLS_DIR/server.crt" ] || ! grep -qs "$TLS_REGISTRY_NAME" "$TLS_DIR/server.ext"; then
    say "making a test CA and a certificate for $TLS_REGISTRY_ADDR ($TLS_DIR)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=oh-builder test CA" \
      -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" 2>>"$LOG_DIR/registry-tls.log"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$TLS_REGISTRY_NAME" \
      -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>>"$LOG_DIR/registry-tls.log"
    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$TLS_REGISTRY_NAME" \
      >"$TLS_DIR/server.ext"
    openssl x509 -req -days 3650 -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
      -CAcreateserial -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.crt" 2>>"$LOG_DIR/registry-tls.log" \
      || die "could not make the registry's certificate; see $LOG_DIR/registry-tls.log"
  fi
  if [ ! -s "$TLS_DIR/htpasswd" ]; then
    (umask 077; openssl rand -hex 16 >"$TLS_DIR/password")
    htpasswd -Bbn "$TLS_USER" "$(cat "$TLS_DIR/password")" >"$TLS_DIR/htpasswd"
  fi
  mkdir -p "/etc/docker/certs.d/$TLS_REGISTRY_ADDR"
  cmp -s "$TLS_DIR/ca.crt" "/etc/docker/certs.d/$TLS_REGISTRY_ADDR/ca.crt" \
    || cp "$TLS_DIR/ca.crt" "/etc/docker/certs.d/$TLS_REGISTRY_ADDR/ca.crt"
  if ! cmp -s "$TLS_DIR/ca.crt" /usr/local/share/ca-certificates/oh-builder-test-ca.crt; then
    cp "$TLS_DIR/ca.crt" /usr/local/share/ca-certificates/oh-builder-test-ca.crt
    update-ca-certificates >>"$LOG_DIR/registry-tls.log" 2>&1 || die "update-ca-certificates failed"
  fi
}

ensure_tls_registry() {
  ensure_tls_material
  if tls_registry_up; then say "registry: $TLS_REGISTRY_ADDR answering (TLS, login $TLS_USER)"; return 0; fi
  cat >"$TLS_DIR/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $TLS_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5443
  tls:
    certificate: $TLS_DIR/server.crt
    key: $TLS_DIR/server.key
auth:
  htpasswd:
    realm: oh-builder-test
    path: $TLS_DIR/htpasswd
YML
  if [ -f "$TLS_DIR/registry.pid" ] && kill -0 "$(cat "$TLS_DIR/registry.pid")" 2>/dev/null; then
    kill "$(cat "$TLS_DIR/registry.pid")"  # an earlier certificate or config
    sleep 1
  fi
  say "starting registry on $TLS_REGISTRY_ADDR with TLS and logins (log: $LOG_DIR/registry-tls.log)"
  setsid nohup docker-registry serve "$TLS_DIR/registry.yml" >>"$LOG_DIR/registry-tls.log" 2>&1 &
  echo $! >"$TLS_DIR/registry.pid"
  for _ in $(seq 30); do tls_registry_up && return 0; sleep 0.5; done
  die "registry did not answer on $TLS_REGISTRY_ADDR; see $LOG_DIR/registry-tls.log"
}

ensure_binfmt() {
  [ "$(uname -m)" = aarch64 ] && { say "binfmt: native arm64"; return 0; }
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
      || die "binfmt_misc is not mounted and cannot be mounted; arm64 emulation needs it (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc)."
  fi
  if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    say "binfmt: qemu-aarch64 registered"
    return 0
  fi
  have update-binfmts || die "arm64 emulation missing; install qemu-user-static and binfmt-support."
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "could not register qemu-aarch64 with binfmt_misc"
  grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || die "qemu-aarch64 is registered without the F (fix-binary) flag; containers cannot use it"
  say "binfmt: qemu-aarch64 registered"
}

main() {
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  have docker || { can_provision && apt_install docker-cli; } || die "no docker client on PATH; install Docker."
  ensure_packages
  ensure_daemon_config
  ensure_daemon
  ensure_current_buildx
  ensure_old_buildx
  check_buildx
  ensure_registry
  ensure_tls_registry
  ensure_binfmt
  # OH_ENGINE_BUILDKITD=skip: the caller starts it (make ready: beside the bases' seeding)
  if [ "${OH_ENGINE_BUILDKITD:-}" != skip ]; then
    OH_CACHE_DIR="$CACHE_DIR" OH_ENGINE_DIR="$STATE_DIR" OH_ENGINE_LOG_DIR="$LOG_DIR" \
      OLD_BUILDX_CONFIG="$OLD_BUILDX_CONFIG" OH_TLS_CA="$TLS_DIR/ca.crt" bash "$(dirname "$0")/buildkitd.sh"
  fi
  say "ready (logs in $LOG_DIR)"
}

main "$@"
