# Sourced by every /openhands/bin/oh-* wrapper (bash). A wrapper sets up the
# environment of the program it wraps, and only that program: it records what it
# changed, so that the action server can hand the agent's shell the environment the
# container started with (OH_SET_VARS: variables we set; OH_SAVED_<VAR>: a base
# image's value that we removed).
OH=/openhands

# Variables from a base image that would make the bundled programs load the base's
# libraries or Python: removed for the wrapped program, remembered for its children.
oh_clean() {
  local v
  for v in LD_LIBRARY_PATH LD_PRELOAD LD_AUDIT PYTHONHOME PYTHONPATH PYTHONSTARTUP \
           PYTHONUSERBASE PYTHONNOUSERSITE GCONV_PATH LOCPATH; do
    if [[ -n ${!v+x} ]]; then
      local saved="OH_SAVED_$v"
      [[ -n ${!saved+x} ]] || export "$saved=${!v}"
      unset "$v"
    fi
  done
}

oh_set() {
  export "$1=$2"
  case " ${OH_SET_VARS:-} " in *" $1 "*) ;; *) export OH_SET_VARS="${OH_SET_VARS:+$OH_SET_VARS }$1" ;; esac
}

oh_clean
oh_set SSL_CERT_FILE "$OH/etc/ssl/certs/ca-certificates.crt"
oh_set GCONV_PATH "$OH/usr/lib/gconv"
