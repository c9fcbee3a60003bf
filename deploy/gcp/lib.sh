# shellcheck shell=bash
# Helpers shared by the scripts in deploy/gcp (sourced, never run). Every command that changes something goes
# through `run` or `run_with_secret`, so that --dry-run prints exactly what would run and runs none of it.

DRY_RUN=0

# Prints an error and exits 2 (bad usage) or the given status.
die() {
  printf '%s: error: %s\n' "${SCRIPT_NAME:-${0##*/}}" "$1" >&2
  exit "${2:-2}"
}

warn() {
  printf '%s: warning: %s\n' "${SCRIPT_NAME:-${0##*/}}" "$1" >&2
}

note() {
  printf '%s\n' "$*" >&2
}

# Quotes a command so that the printed line can be pasted into a shell as is.
quote_cmd() {
  local out='' arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@,+%^-]+$ ]]; then
      out+=" $arg"
    else
      out+=" $(printf '%q' "$arg")"
    fi
  done
  printf '%s' "${out# }"
}

# Runs a command, or with --dry-run prints it on stdout prefixed by "[dry-run] ".
run() {
  if [[ $DRY_RUN == 1 ]]; then
    printf '[dry-run] %s\n' "$(quote_cmd "$@")"
    return 0
  fi
  printf '+ %s\n' "$(quote_cmd "$@")" >&2
  "$@"
}

# run_with_secret VAR cmd...: runs cmd with the value of the variable VAR on its standard input, so that the
# secret never appears in an argument list (ps, shell history, logs). Only the variable's name is printed.
run_with_secret() {
  local var=$1
  shift
  if [[ $DRY_RUN == 1 ]]; then
    printf '[dry-run] %s  < (value of %s, not shown)\n' "$(quote_cmd "$@")" "$var"
    return 0
  fi
  printf '+ %s  < (value of %s, not shown)\n' "$(quote_cmd "$@")" "$var" >&2
  # printf is a shell builtin: the value is never the argument of another process.
  printf '%s' "${!var}" | "$@"
}

# Fails unless the named tool is on PATH; skipped under --dry-run, which runs nothing.
require_tool() {
  [[ $DRY_RUN == 1 ]] && return 0
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH. $2" 3
}

# need_value FLAG VALUE: the value that follows a flag must exist and not look like another flag.
need_value() {
  [[ $# -ge 2 && -n $2 && $2 != --* ]] || die "$1 needs a value"
}
