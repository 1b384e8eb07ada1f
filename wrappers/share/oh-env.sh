# Sourced by every /openhands/bin/oh-* wrapper (bash). A wrapper sets up the
# environment of the program it wraps, and only that program: it records what it
# changed (OH_SET_VARS: the variables it set; OH_SAVED_<VAR>: a value it removed or
# replaced; OH_KEEP_VARS: those of them the program reads while it runs), so that what
# that program starts gets the environment the container started with back (oh_restore in oh-restore.sh, the venv's _oh_env for Python, the
# bundle's bash and tmux through oh-bashrc and oh-tmux-shell).
# shellcheck shell=bash
set -uo pipefail  # the wrapper's own shell only: exec leaves it
OH=/openhands

# Variables from a base image that would make the bundled programs load the base's
# libraries or Python: removed for the wrapped program, remembered for its children.
oh_clean() {
  local v saved
  for v in LD_LIBRARY_PATH LD_PRELOAD LD_AUDIT PYTHONHOME PYTHONPATH PYTHONSTARTUP \
           PYTHONUSERBASE PYTHONNOUSERSITE GCONV_PATH LOCPATH; do
    case " ${OH_SET_VARS:-} " in *" $v "*) continue ;; esac  # an outer wrapper's
    if oh_exported "$v"; then
      saved="OH_SAVED_$v"
      oh_exported "$saved" || export "$saved=${!v}"
      unset "$v"
    fi
  done
}

# Whether a variable is in the environment (bash itself sets some, SHELL for one,
# without exporting them).
oh_exported() {
  [[ -n ${!1+x} && ${!1@a} == *x* ]]
}

# Set a variable for the wrapped program; a value the base had is saved first (the
# first wrapper's record stands when wrappers nest).
oh_set() {
  case " ${OH_SET_VARS:-} " in
    *" $1 "*) ;;
    *)
      if oh_exported "$1"; then
        local saved="OH_SAVED_$1"
        oh_exported "$saved" || export "$saved=${!1}"
      fi
      export OH_SET_VARS="${OH_SET_VARS:+$OH_SET_VARS }$1"
      ;;
  esac
  export "$1=$2"
}

# Set a variable the wrapped program reads while it runs, not only as it starts (where
# Playwright keeps its browsers, whether V0 switches users): the venv's start-up hook
# leaves it in the program's own environment, and still keeps it from the base's
# programs the program starts.
oh_keep() {
  oh_set "$1" "$2"
  case " ${OH_KEEP_VARS:-} " in
    *" $1 "*) ;;
    *) export OH_KEEP_VARS="${OH_KEEP_VARS:+$OH_KEEP_VARS }$1" ;;
  esac
}

oh_clean
# TLS trusts what the base trusts: its SSL_CERT_FILE, else its system CA bundle (where
# Debian, Alpine, Fedora or openSUSE keep one), else the bundle's.
if [[ -z ${SSL_CERT_FILE:-} ]]; then
  for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt \
           /etc/ssl/cert.pem /etc/ssl/ca-bundle.pem "$OH/etc/ssl/certs/ca-certificates.crt"; do
    if [[ -f $f ]]; then
      oh_set SSL_CERT_FILE "$f"
      break
    fi
  done
fi
oh_set GCONV_PATH "$OH/usr/lib/gconv"
# The bundle's glibc reads only the bundle's locales (C.UTF-8), never a base's built
# for another glibc; Python coerces its C locale to it.
oh_set LOCPATH "$OH/usr/lib/locale"

# A server keeps its state under HOME (the agent-server's ~/.openhands, V0's jupyter
# kernel files). A sandbox's arbitrary uid has no passwd entry (Docker sets HOME=/),
# and a read-only root filesystem leaves no home at all: then the server gets a home
# under /tmp (one line says so; the agent's shell keeps the container's HOME), or the
# wrapper stops at once, naming what to mount.
oh_writable_home() {
  local home
  [[ -w ${HOME:-/} ]] && return 0
  home=${TMPDIR:-/tmp}/oh-home-$EUID
  if ! "$OH/usr/bin/busybox" mkdir -p "$home" 2>/dev/null || [[ ! -w $home ]]; then
    echo "$1: neither HOME (${HOME:-unset}) nor ${TMPDIR:-/tmp} is writable for uid $EUID:" \
         "mount a writable directory as HOME or /tmp (docker run --tmpfs /tmp)" >&2
    exit 78  # EX_CONFIG
  fi
  echo "$1: HOME (${HOME:-unset}) is not writable for uid $EUID; the server keeps its" \
       "state in $home (set HOME to a writable directory to choose)" >&2
  oh_keep HOME "$home"
}
