# shellcheck shell=bash
# Sourced by the bundle's bash (BASH_ENV of a non-interactive one, oh-bashrc of an
# interactive one) and by oh-tmux-shell: undo what the oh-* wrappers changed (the
# record oh-env.sh keeps), so the commands the agent runs see the environment the
# container started with, not the bundle's.
oh_restore() {
  local v saved
  for v in ${OH_SET_VARS:-}; do
    saved="OH_SAVED_$v"
    if [[ -n ${!saved+x} ]]; then
      export "$v=${!saved}"
    else
      unset "$v"
    fi
  done
  for saved in ${!OH_SAVED_*}; do
    export "${saved#OH_SAVED_}=${!saved}"
    unset "$saved"
  done
  unset OH_SET_VARS OH_KEEP_VARS
}
oh_restore
unset -f oh_restore
# A non-interactive bash reads BASH_ENV: the base's own, when it had one, comes next.
if [[ $- != *i* && -n ${BASH_ENV:-} && $BASH_ENV != /openhands/share/oh-restore.sh ]]; then
  # shellcheck source=/dev/null
  . "$BASH_ENV"
fi
