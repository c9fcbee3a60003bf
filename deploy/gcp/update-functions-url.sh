#!/usr/bin/env bash
# Points the Cloud Functions at the gateway: the seed's 07-update-redis-service-url.sh, made safe. It stores
# the gateway's URL and token as Secret Manager secrets (never as plain functions config or environment
# variables), through the Firebase CLI (default) or gcloud. The token is read from the environment, a file
# or stdin, passed to the CLI on stdin, and never printed.
set -euo pipefail

SCRIPT_NAME=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME (--url URL | --instance NAME --zone ZONE) [options]

Stores the gateway URL and token as the secrets CACHEGATE_URL and CACHEGATE_TOKEN, which the functions
declare and read with Cachegate.fromEnv() (docs/cloud-functions.md). Run it again when the VM's address or
the token changes, then redeploy the functions (--deploy) so that they pick up the new versions.

Where the URL comes from:
  --url URL            The gateway's URL, e.g. https://cache.example.com. [CACHEGATE_URL]
  --instance NAME      Or: the VM whose external IP the URL uses (as the seed did). [CACHEGATE_INSTANCE]
  --zone ZONE          Zone of --instance. [CLOUDSDK_COMPUTE_ZONE]
  --scheme SCHEME      Scheme with --instance. (default: https)
  --port PORT          Port with --instance. [CACHEGATE_PORT] (default: 8081)
  --allow-http         Accept an http:// URL that is not loopback. The token would cross the network in
                       clear; use it only on a private network (VPC connector + internal IP).

Where the token comes from (never from a flag value, which would land in shell history and ps):
  CACHEGATE_TOKEN      environment variable (alias REDIS_SERVICE_API_KEY), or
  --token-file PATH    a file holding the token, or
  --token-stdin        standard input.

Where the secrets go:
  --target firebase|gcloud  'firebase functions:secrets:set' (default) or 'gcloud secrets'.
  --url-secret NAME    Secret holding the URL. (default: CACHEGATE_URL)
  --token-secret NAME  Secret holding the token. (default: CACHEGATE_TOKEN)
  --deploy             Then run 'firebase deploy --only functions' (firebase target only).
  --project ID         GCP/Firebase project. [CLOUDSDK_CORE_PROJECT]
  --dry-run            Print the commands that would run, and run none.
  -h, --help           Show this help.

Example:
  CACHEGATE_TOKEN=... $SCRIPT_NAME --project my-project --url https://cache.example.com --deploy
EOF
}

url=${CACHEGATE_URL:-}
instance=${CACHEGATE_INSTANCE:-}
zone=${CLOUDSDK_COMPUTE_ZONE:-}
scheme=https
port=${CACHEGATE_PORT:-8081}
allow_http=0
token_file=''
token_stdin=0
target=firebase
url_secret=CACHEGATE_URL
token_secret=CACHEGATE_TOKEN
deploy=0
project=${CLOUDSDK_CORE_PROJECT:-}

while [[ $# -gt 0 ]]; do
  if [[ $1 == --*=* ]]; then
    set -- "${1%%=*}" "${1#*=}" "${@:2}"
    continue
  fi
  case $1 in
    --url) need_value "$@"; url=$2; shift 2 ;;
    --instance) need_value "$@"; instance=$2; shift 2 ;;
    --zone) need_value "$@"; zone=$2; shift 2 ;;
    --scheme) need_value "$@"; scheme=$2; shift 2 ;;
    --port) need_value "$@"; port=$2; shift 2 ;;
    --allow-http) allow_http=1; shift ;;
    --token-file) need_value "$@"; token_file=$2; shift 2 ;;
    --token-stdin) token_stdin=1; shift ;;
    --token) die "--token is not accepted: a token in a command line lands in shell history and ps. Use CACHEGATE_TOKEN, --token-file or --token-stdin" ;;
    --target) need_value "$@"; target=$2; shift 2 ;;
    --url-secret) need_value "$@"; url_secret=$2; shift 2 ;;
    --token-secret) need_value "$@"; token_secret=$2; shift 2 ;;
    --deploy) deploy=1; shift ;;
    --project) need_value "$@"; project=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# --- the URL ----------------------------------------------------------------------------------------------
if [[ -n $url && -n $instance ]]; then
  die "give either --url or --instance, not both"
fi
if [[ -z $url && -z $instance ]]; then
  die "--url or --instance is required (see --help)"
fi
[[ -z $instance || -n $zone ]] || die "--instance needs --zone (or CLOUDSDK_COMPUTE_ZONE)"
[[ $scheme == https || $scheme == http ]] || die "--scheme must be https or http"
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  die "--port must be a TCP port number, not '$port'"
fi

# --- the token (read before anything runs; its value is never printed) ------------------------------------
# shellcheck disable=SC2153 # REDIS_SERVICE_API_KEY is the seed's name, accepted as an alias.
token=${CACHEGATE_TOKEN:-${REDIS_SERVICE_API_KEY:-}}
if [[ -n $token_file ]]; then
  [[ -f $token_file && -r $token_file ]] || die "--token-file '$token_file' is not a readable file"
  token=$(<"$token_file")
elif [[ $token_stdin == 1 ]]; then
  token=$(cat)
fi
# Surrounding whitespace (a trailing newline from a file) is not part of the token.
token=${token#"${token%%[![:space:]]*}"}
token=${token%"${token##*[![:space:]]}"}
[[ -n $token ]] || die "no token: set CACHEGATE_TOKEN, or use --token-file or --token-stdin"
((${#token} >= 16)) || die "the token is shorter than 16 characters; the gateway would refuse it"
[[ $token != *[[:space:]]* ]] || die "the token contains whitespace; generate one with: openssl rand -base64 32"
# shellcheck disable=SC2034 # read by run_with_secret through ${!name}
CACHEGATE_SECRET_TOKEN=$token
unset token

# --- the secrets' names and the target ----------------------------------------------------------------------
for name in "$url_secret" "$token_secret"; do
  [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "secret name '$name' must be an environment variable name"
done
[[ $target == firebase || $target == gcloud ]] || die "--target must be firebase or gcloud"
[[ $deploy == 0 || $target == firebase ]] || die "--deploy is for --target firebase; with gcloud, redeploy with --set-secrets (see --help)"

project_flag=()
[[ -z $project ]] || project_flag=(--project="$project")

if [[ -n $instance ]]; then
  require_tool gcloud "Install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"
  describe=(gcloud compute instances describe "$instance" --zone="$zone" "${project_flag[@]}"
    --format='get(networkInterfaces[0].accessConfigs[0].natIP)')
  if [[ $DRY_RUN == 1 ]]; then
    run "${describe[@]}"
    ip=EXTERNAL-IP
  else
    ip=$("${describe[@]}")
    [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "instance $instance has no external IPv4 address (got '$ip')" 1
  fi
  url="$scheme://$ip:$port"
fi

[[ $url =~ ^https?://[^/?#[:space:]]+(/[^?#[:space:]]*)?$ ]] || die "'$url' is not an http(s) URL without query or fragment"
url=${url%/}
if [[ $url == http://* && $allow_http == 0 ]]; then
  host=${url#http://}
  host=${host%%[/:]*}
  if [[ $host != localhost && $host != 127.* ]]; then
    die "refusing $url: the token would cross the network in clear. Serve HTTPS (docs/deploy.md, TLS), or pass --allow-http for a private network"
  fi
fi
# shellcheck disable=SC2034 # read by run_with_secret through ${!name}
CACHEGATE_SECRET_URL=$url

# --- store them ---------------------------------------------------------------------------------------------
if [[ $target == firebase ]]; then
  require_tool firebase "Install the Firebase CLI: npm install -g firebase-tools"
  for pair in "$url_secret:CACHEGATE_SECRET_URL" "$token_secret:CACHEGATE_SECRET_TOKEN"; do
    run_with_secret "${pair#*:}" firebase functions:secrets:set "${pair%%:*}" --data-file=- "${project_flag[@]}" --non-interactive
  done
  if [[ $deploy == 1 ]]; then
    run firebase deploy --only functions "${project_flag[@]}" --non-interactive
  else
    note "Redeploy the functions so that they read the new versions: firebase deploy --only functions"
  fi
else
  require_tool gcloud "Install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"
  for pair in "$url_secret:CACHEGATE_SECRET_URL" "$token_secret:CACHEGATE_SECRET_TOKEN"; do
    name=${pair%%:*}
    if [[ $DRY_RUN == 0 ]] && ! gcloud secrets describe "$name" "${project_flag[@]}" --format='value(name)' >/dev/null 2>&1; then
      run gcloud secrets create "$name" "${project_flag[@]}" --replication-policy=automatic
    elif [[ $DRY_RUN == 1 ]]; then
      note "(a real run first creates the secret $name when it does not exist yet)"
    fi
    run_with_secret "${pair#*:}" gcloud secrets versions add "$name" "${project_flag[@]}" --data-file=-
  done
  note "Bind them to the function (it reads them as environment variables), e.g.:"
  note "  gcloud functions deploy FUNCTION --gen2 --set-secrets=CACHEGATE_URL=$url_secret:latest,CACHEGATE_TOKEN=$token_secret:latest ..."
fi

if [[ $DRY_RUN == 1 ]]; then
  note "Dry run: nothing was changed. The secrets would hold $url and the token (not shown)."
else
  note "Done: $url_secret and $token_secret updated for $url (token not shown)."
fi
