#!/usr/bin/env bash
# Deploys a git revision of cachegate to a GCP VM and (re)starts the Compose stack there: the seed's
# 05-deploy.sh, made general and safe. Layout on the VM (--remote-dir, default /opt/cachegate):
#
#   .env                 the stack's secrets (mode 600), uploaded with --env-file, kept across releases
#   tokens/, tls/        TOKENS_DIR and TLS_DIR of deploy/.env.example, kept across releases too (an --env-file
#                        that makes either relative, so inside one release, is refused)
#   releases/<commit>/   one folder per deployed revision (the `git archive` of it)
#   current              symlink to the release that runs
#
# The image is built on the VM (docker compose up --build), so no registry is needed. Redis data lives in a
# named volume of the "cachegate" Compose project and survives every release.
set -euo pipefail

SCRIPT_NAME=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME --instance NAME --zone ZONE [options]

Sends the archive of a git revision to the VM over 'gcloud compute ssh', unpacks it as a new release, and
runs 'docker compose up -d --build --wait' there; 'current' then points at it. Older releases beyond --keep
are removed. The VM needs Docker Engine with the Compose plugin (docs/deploy.md).

Options (environment variable in brackets):
  --instance NAME     VM name. Required. [CACHEGATE_INSTANCE]
  --zone ZONE         VM zone. Required. [CLOUDSDK_COMPUTE_ZONE]
  --project ID        GCP project; unset: gcloud's configured project. [CLOUDSDK_CORE_PROJECT]
  --ref REV           Git revision to deploy (commit, tag or branch); redeploy an older one to roll back.
                      (default: HEAD; uncommitted changes are not deployed)
  --env-file PATH     Local .env to install on the VM as <remote-dir>/.env (mode 600). Needed on the first
                      deploy; later deploys keep the one on the VM. Its content is never printed.
  --remote-dir DIR    Install folder on the VM. [CACHEGATE_REMOTE_DIR] (default: /opt/cachegate)
  --profile NAME      Also start a Compose profile, e.g. monitoring (repeatable).
  --keep N            Releases kept on the VM, the running one included. (default: 5)
  --iap               Reach the VM through Identity-Aware Proxy (no public SSH port needed).
  --dry-run           Print the commands that would run, and run none.
  -h, --help          Show this help.

Example:
  $SCRIPT_NAME --project my-project --instance cachegate-vm --zone us-central1-a --env-file deploy/.env
EOF
}

instance=${CACHEGATE_INSTANCE:-}
zone=${CLOUDSDK_COMPUTE_ZONE:-}
project=${CLOUDSDK_CORE_PROJECT:-}
ref=HEAD
env_file=''
remote_dir=${CACHEGATE_REMOTE_DIR:-/opt/cachegate}
profiles=()
keep=5
iap=0

while [[ $# -gt 0 ]]; do
  if [[ $1 == --*=* ]]; then
    set -- "${1%%=*}" "${1#*=}" "${@:2}"
    continue
  fi
  case $1 in
    --instance) need_value "$@"; instance=$2; shift 2 ;;
    --zone) need_value "$@"; zone=$2; shift 2 ;;
    --project) need_value "$@"; project=$2; shift 2 ;;
    --ref) need_value "$@"; ref=$2; shift 2 ;;
    --env-file) need_value "$@"; env_file=$2; shift 2 ;;
    --remote-dir) need_value "$@"; remote_dir=$2; shift 2 ;;
    --profile) need_value "$@"; profiles+=("$2"); shift 2 ;;
    --keep) need_value "$@"; keep=$2; shift 2 ;;
    --iap) iap=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[[ -n $instance ]] || die "--instance is required (see --help)"
[[ -n $zone ]] || die "--zone is required (see --help)"
[[ $remote_dir == /* && $remote_dir != / && $remote_dir =~ ^[A-Za-z0-9_./-]+$ ]] ||
  die "--remote-dir must be an absolute path of letters, digits, '_', '.', '-' and '/', not '$remote_dir'"
if ! [[ $keep =~ ^[0-9]+$ ]] || ((keep < 1)); then
  die "--keep must be a whole number of at least 1"
fi
for profile in "${profiles[@]}"; do
  [[ $profile =~ ^[a-z0-9][a-z0-9_-]*$ ]] || die "--profile '$profile' is not a Compose profile name"
done
if [[ -n $env_file ]]; then
  [[ -f $env_file && -r $env_file ]] || die "--env-file '$env_file' is not a readable file"
  # Values only: comments (the example's header among them) may mention the placeholder.
  unset_secrets=$(env_names_where "$env_file" '<generate-me>')
  if [[ -n $unset_secrets ]]; then
    die "--env-file '$env_file' still has <generate-me> placeholders ($unset_secrets): generate each secret first (openssl rand -base64 32)"
  fi
  # Compose resolves a relative folder inside releases/<commit>/deploy, which a later deploy removes.
  for folder in TOKENS_DIR TLS_DIR; do
    value=$(env_value "$env_file" "$folder")
    if [[ -n $value && $value != /* ]]; then
      die "--env-file '$env_file' sets $folder=$value, a relative path: on the VM it would be a folder of one release, gone after the next deploy. Use an absolute path, e.g. $folder=$remote_dir/$(tr '[:upper:]' '[:lower:]' <<<"${folder%_DIR}")"
    fi
  done
fi

repo=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null) || die "run this from a git checkout of cachegate"
commit=$(git -C "$repo" rev-parse --verify --quiet "$ref^{commit}") || die "--ref '$ref' is not a commit in $repo"
if [[ -n $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
  warn "the working tree has uncommitted changes; they are not deployed (only $ref = ${commit:0:12} is)"
fi

release="$remote_dir/releases/$commit"
compose=(sudo docker compose --project-name cachegate --env-file "$remote_dir/.env" -f "$release/deploy/compose.yaml")
for profile in "${profiles[@]}"; do
  compose+=(--profile "$profile")
done

# The script the VM runs, with every value quoted for its shell. It reads the release archive on stdin.
remote_script=$(
  cat <<EOF
set -euo pipefail
sudo test -f $(printf '%q' "$remote_dir/.env") || { echo 'No $remote_dir/.env on the VM: deploy once with --env-file' >&2; exit 1; }
sudo rm -rf $(printf '%q' "$release")
sudo mkdir -p $(printf '%q' "$release")
sudo tar -xzf - -C $(printf '%q' "$release")
$(quote_cmd "${compose[@]}") up -d --build --wait --remove-orphans
sudo ln -sfn $(printf '%q' "$release") $(printf '%q' "$remote_dir/current")
cd $(printf '%q' "$remote_dir/releases")
ls -1t | tail -n +$((keep + 1)) | while read -r old; do
  [ "\$old" = $(printf '%q' "$commit") ] || sudo rm -rf -- "\$old"
done
echo "cachegate ${commit:0:12} is up on \$(hostname)"
EOF
)

ssh_cmd=(gcloud compute ssh "$instance" --zone="$zone")
[[ -z $project ]] || ssh_cmd+=(--project="$project")
[[ $iap == 0 ]] || ssh_cmd+=(--tunnel-through-iap)

require_tool gcloud "Install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"

# show_remote PREFIX SCRIPT BEFORE AFTER prints "PREFIX BEFORE gcloud compute ssh ... --command=<script below>
# AFTER" and then the script, indented, so that a dry run stays readable.
show_remote() {
  printf '%s %s%s --command=<script below>%s\n' "$1" "$3" "$(quote_cmd "${ssh_cmd[@]}")" "$4"
  printf '%s\n' "$2" | sed 's/^/    /'
}

if [[ -n $env_file ]]; then
  # Sent on stdin and written under umask 077: the secrets are never in a command line or a world-readable
  # temporary file.
  env_script="set -euo pipefail; sudo mkdir -p $(printf '%q' "$remote_dir"); sudo sh -c 'umask 077 && cat > $(printf '%q' "$remote_dir/.env")'"
  if [[ $DRY_RUN == 1 ]]; then
    show_remote '[dry-run]' "$env_script" '' " < $(printf '%q' "$env_file") (content not shown)"
  else
    show_remote '+' "$env_script" '' " < $(printf '%q' "$env_file") (content not shown)" >&2
    "${ssh_cmd[@]}" --command="$env_script" <"$env_file"
  fi
fi

archive=(git -C "$repo" archive --format=tar.gz "$commit")
if [[ $DRY_RUN == 1 ]]; then
  show_remote '[dry-run]' "$remote_script" "$(quote_cmd "${archive[@]}") | " ''
else
  show_remote '+' "$remote_script" "$(quote_cmd "${archive[@]}") | " '' >&2
  "${archive[@]}" | "${ssh_cmd[@]}" --command="$remote_script"
fi
