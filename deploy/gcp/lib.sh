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

# env_value FILE NAME: the value the last NAME=... line of a Compose env file sets (quotes removed), or
# nothing. Comment lines never count.
env_value() {
  sed -nE "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" "$1" | tail -n 1 | sed -E 's/^"(.*)"$/\1/; s/^'"'"'(.*)'"'"'$/\1/'
}

# env_names_where FILE TEXT: the names whose values contain TEXT in a Compose env file, comma-separated.
env_names_where() {
  grep -E '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=' "$1" | grep -F -- "$2" |
    sed -E 's/^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*).*/\1/' | paste -sd, - | sed 's/,/, /g' || true
}

# is_cidr TEXT: an IPv4 or IPv6 address with an optional /prefix, each part in range (10.0.0.0/8,
# 2001:db8::/32, 203.0.113.7). gcloud would take many malformed ranges only to fail later, or not at all.
is_cidr() {
  local address=$1 prefix='' max=32
  if [[ $1 == */* ]]; then
    address=${1%/*}
    prefix=${1##*/}
    [[ $prefix =~ ^[0-9]{1,3}$ ]] || return 1
  fi
  if [[ $address == *:* ]]; then
    max=128
    is_ipv6 "$address" || return 1
  else
    is_ipv4 "$address" || return 1
  fi
  [[ -z $prefix ]] || ((10#$prefix <= max))
}

# is_ipv4 TEXT: four dotted decimal octets of 0 to 255.
is_ipv4() {
  local octet octets
  [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  IFS=. read -r -a octets <<<"$1"
  for octet in "${octets[@]}"; do
    ((10#$octet <= 255)) || return 1
  done
}

# is_ipv6 TEXT: eight groups of 1 to 4 hex digits, or fewer around a single '::'.
is_ipv6() {
  local groups='([0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4})*)?' head tail count
  if [[ $1 == *::* ]]; then
    head=${1%%::*}
    tail=${1#*::}
    [[ $head =~ ^$groups$ && $tail =~ ^$groups$ ]] || return 1
    count=$(($(group_count "$head") + $(group_count "$tail")))
    ((count <= 7))
  else
    [[ $1 =~ ^$groups$ ]] && (($(group_count "$1") == 8))
  fi
}

# group_count TEXT: how many ':'-separated groups TEXT has (0 when empty).
group_count() {
  local colons=${1//[^:]/}
  if [[ -z $1 ]]; then echo 0; else echo $((${#colons} + 1)); fi
}
