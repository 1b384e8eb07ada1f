# Sourced (after oh-env.sh) by the two wrappers that start OpenHands V0's action
# execution server: micromamba (DockerRuntime's command) and oh-action-execution-server
# (the seed's short form). V0 opens the agent's terminal and its jupyter kernel as
# `--username` through su when SU_TO_USER is not false; this decides it, once, for the
# container the server finds itself in.
# shellcheck shell=bash

# Whether this process holds every capability of MASK (CapEff in /proc/self/status, a
# hex mask): a sandbox that drops capabilities leaves root unable to su (SETUID 7,
# SETGID 6), or to hand the agent its files (CHOWN 0) and then still write them
# (DAC_OVERRIDE 1, FOWNER 3).
OH_CAPS_SU=0xC0
OH_CAPS_AS_USER=0xCB
oh_has_caps() {
  local key value
  ((EUID == 0)) || return 1
  while read -r key value; do
    if [[ $key == CapEff: ]]; then
      (((16#$value & $1) == $1))
      return
    fi
  done </proc/self/status
  return 0
}

# Whether root's login shell (what `su root -` starts) is bash: busybox's sh or a nologin
# never answers V0's bash prompt protocol.
oh_root_login_is_bash() {
  local name login
  while IFS=: read -r name _ _ _ _ _ login; do
    if [[ $name == root ]]; then
      [[ ${login##*/} == bash ]]
      return
    fi
  done </etc/passwd
  return 1
}

# oh_v0_user PROGRAM USERNAME: SU_TO_USER for a server whose agent runs as USERNAME,
# unless the launcher set it. Started as another user, the server already is that user
# (su would ask for a password). Root for root needs no su where su would not work: no
# capabilities to switch, or a login shell that is not bash; V0, root already, starts
# /bin/bash itself then. Root for another user without the capabilities cannot run the
# agent as that user at all: one line names what to change, exit 78 (EX_CONFIG).
oh_v0_user() {
  [[ -z ${SU_TO_USER+x} ]] || return 0
  if ((EUID != 0)); then
    oh_keep SU_TO_USER false
  elif [[ $2 == root ]]; then
    if ! oh_has_caps "$OH_CAPS_SU" || ! oh_root_login_is_bash 2>/dev/null; then
      oh_keep SU_TO_USER false
    fi
  elif ! oh_has_caps "$OH_CAPS_AS_USER"; then
    echo "$1: OpenHands V0 runs the agent as '$2' through su and gives it its files, and" \
         "this container's root lacks the capabilities for that: add --cap-add SETUID" \
         "--cap-add SETGID --cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add FOWNER (Docker's" \
         "defaults), or start the container as that user (docker run --user 1000), or pass" \
         "--username root" >&2
    exit 78
  fi
}

# oh_v0_args PROGRAM ARGS...: V0's command line (in OH_V0_ARGS) for a server started as
# a uid that is neither root nor its --username's (a sandbox's --user 4242). V0 gives
# what the agent writes to its user, which it takes from the existing user's uid (1000)
# whatever --user-id says, and only root may give a file away. As V0's local runtime
# does, the server is then the user it runs as: --username a name of that uid's (USER,
# which V0 checks), --user-id the uid; one line says so.
oh_v0_args() {
  local prog=$1 arg name=openhands uid="" next=""
  shift
  OH_V0_ARGS=("$@")
  ((EUID != 0)) || return 0
  for arg in "$@"; do
    case $next in
      user) name=$arg ;;
    esac
    next=""
    case $arg in
      --username) next=user ;;
      --username=*) name=${arg#--username=} ;;
    esac
  done
  while IFS=: read -r n _ u _; do
    [[ $n == "$name" ]] && uid=$u
  done <"${OH_PASSWD:-/etc/passwd}"
  [[ $uid == "$EUID" ]] && return 0
  local agent="uid$EUID"
  OH_V0_ARGS=()
  next=""
  for arg in "$@"; do
    case $next in
      user) arg=$agent ;;
      id) arg=$EUID ;;
    esac
    next=""
    case $arg in
      --username) next=user ;;
      --user-id) next=id ;;
      --username=*) arg=--username=$agent ;;
      --user-id=*) arg=--user-id=$EUID ;;
    esac
    OH_V0_ARGS+=("$arg")
  done
  oh_keep USER "$agent"
  echo "$prog: started as uid $EUID, not as '$name': V0 runs the agent as $agent (uid $EUID), whose files are its own" >&2
}
