#!/usr/bin/env bash
# Opens the gateway's port on a GCP VM to the given source ranges only: the seed's 03-setup-firewall.sh, made
# general and safe. Creates the VPC firewall rule, or updates it when it already exists, and can tag the VM.
set -euo pipefail

SCRIPT_NAME=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME --source-ranges CIDR[,CIDR...] [options]

Creates (or updates) a VPC firewall rule allowing TCP to the gateway's port from the given ranges only, on
VMs carrying the target tag. With --instance, also adds that tag to the VM.

Options (environment variable in brackets):
  --source-ranges LIST  Comma-separated CIDR ranges allowed to connect, e.g. the static egress IP of your
                        Cloud Functions' Cloud NAT (203.0.113.7/32). Required. [CACHEGATE_SOURCE_RANGES]
                        0.0.0.0/0 (the whole internet) is accepted with a warning.
  --port PORT           Port to open: the gateway's host port, or 443 behind a reverse proxy.
                        [CACHEGATE_PORT] (default: 8081)
  --rule NAME           Firewall rule name. [CACHEGATE_FIREWALL_RULE] (default: allow-cachegate)
  --network NAME        VPC network. [CACHEGATE_NETWORK] (default: default)
  --target-tag TAG      Network tag the rule applies to. [CACHEGATE_TARGET_TAG] (default: cachegate)
  --instance NAME       VM to add the target tag to (optional). [CACHEGATE_INSTANCE]
  --zone ZONE           Zone of --instance. [CLOUDSDK_COMPUTE_ZONE]
  --project ID          GCP project; unset: gcloud's configured project. [CLOUDSDK_CORE_PROJECT]
  --dry-run             Print the gcloud commands that would run, and run none.
  -h, --help            Show this help.

Example:
  $SCRIPT_NAME --project my-project --source-ranges 203.0.113.7/32 --instance cachegate-vm --zone us-central1-a
EOF
}

source_ranges=${CACHEGATE_SOURCE_RANGES:-}
port=${CACHEGATE_PORT:-8081}
rule=${CACHEGATE_FIREWALL_RULE:-allow-cachegate}
network=${CACHEGATE_NETWORK:-default}
target_tag=${CACHEGATE_TARGET_TAG:-cachegate}
instance=${CACHEGATE_INSTANCE:-}
zone=${CLOUDSDK_COMPUTE_ZONE:-}
project=${CLOUDSDK_CORE_PROJECT:-}

while [[ $# -gt 0 ]]; do
  if [[ $1 == --*=* ]]; then
    set -- "${1%%=*}" "${1#*=}" "${@:2}"
    continue
  fi
  case $1 in
    --source-ranges) need_value "$@"; source_ranges=$2; shift 2 ;;
    --port) need_value "$@"; port=$2; shift 2 ;;
    --rule) need_value "$@"; rule=$2; shift 2 ;;
    --network) need_value "$@"; network=$2; shift 2 ;;
    --target-tag) need_value "$@"; target_tag=$2; shift 2 ;;
    --instance) need_value "$@"; instance=$2; shift 2 ;;
    --zone) need_value "$@"; zone=$2; shift 2 ;;
    --project) need_value "$@"; project=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[[ -n $source_ranges ]] || die "--source-ranges is required: the addresses allowed to reach the gateway (see --help)"
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  die "--port must be a TCP port number, not '$port'"
fi
[[ $rule =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "--rule '$rule' is not a valid GCP resource name"
[[ $target_tag =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || die "--target-tag '$target_tag' is not a valid network tag"
[[ -z $instance || -n $zone ]] || die "--instance needs --zone (or CLOUDSDK_COMPUTE_ZONE)"

ranges=()
IFS=',' read -r -a ranges <<<"${source_ranges// /}"
for range in "${ranges[@]}"; do
  is_cidr "$range" || die "source range '$range' is not an IPv4 or IPv6 CIDR (address/prefix, prefix up to 32 or 128)"
  if [[ $range == 0.0.0.0/0 || $range == ::/0 ]]; then
    warn "source range $range opens port $port to the whole internet. Only the token then stands between"
    warn "anyone and your Redis, so the gateway must serve HTTPS (docs/deploy.md, TLS). Prefer the static"
    warn "egress address of your callers (Cloud NAT) or a Serverless VPC connector and the VM's internal IP."
  fi
done
source_ranges=$(IFS=','; printf '%s' "${ranges[*]}")

project_flag=()
[[ -z $project ]] || project_flag=(--project="$project")

require_tool gcloud "Install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"

rule_flags=(
  --allow="tcp:$port"
  --source-ranges="$source_ranges"
  --target-tags="$target_tag"
  --description="cachegate gateway (tcp:$port) from the allowed ranges only"
)

if [[ $DRY_RUN == 1 ]]; then
  note "Dry run: nothing is changed. A real run looks the rule up first, then creates it, or updates it in place"
  note "when it exists:"
  run gcloud compute firewall-rules create "$rule" "${project_flag[@]}" --network="$network" --direction=INGRESS "${rule_flags[@]}"
  run gcloud compute firewall-rules update "$rule" "${project_flag[@]}" "${rule_flags[@]}"
elif gcloud compute firewall-rules describe "$rule" "${project_flag[@]}" --format='value(name)' >/dev/null 2>&1; then
  run gcloud compute firewall-rules update "$rule" "${project_flag[@]}" "${rule_flags[@]}"
else
  run gcloud compute firewall-rules create "$rule" "${project_flag[@]}" --network="$network" --direction=INGRESS "${rule_flags[@]}"
fi

if [[ -n $instance ]]; then
  run gcloud compute instances add-tags "$instance" "${project_flag[@]}" --zone="$zone" --tags="$target_tag"
else
  note "Add the network tag to the gateway's VM, or the rule matches nothing:"
  note "  gcloud compute instances add-tags VM --zone=ZONE --tags=$target_tag"
fi
