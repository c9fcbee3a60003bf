#!/usr/bin/env bash
# Puts one or more gateway VMs behind a GCP global external Application Load Balancer that terminates HTTPS
# with a Google-managed certificate: the seed's "load balancer" next step, for the VM layout of
# docs/deploy.md. Google's proxies and health checkers reach the VMs from 35.191.0.0/16 and 130.211.0.0/22
# only, so the firewall rule this creates opens the gateway's port to those ranges and nothing else.
# Walkthrough: docs/load-balancer.md.
set -euo pipefail

SCRIPT_NAME=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

# Where Google Front Ends and health checks come from (Google's documented ranges for these load balancers).
GOOGLE_RANGES=35.191.0.0/16,130.211.0.0/22

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME --instances VM[,VM...] --zone ZONE --domain NAME [options]

Creates, in order, whatever does not exist yet (existing resources are kept as they are):
  <name>-ig           unmanaged instance group of the VMs, named port cachegate:<port>
  <name>-readyz       health check: GET /readyz on <port> (503 while Redis is down or the gateway drains)
  allow-<name>-lb     firewall rule: tcp:<port> from $GOOGLE_RANGES to VMs tagged <tag>
  <name>-backend      backend service over the group, with that health check
  <name>-url-map, <name>-cert (Google-managed, for --domain), <name>-https-proxy,
  <name>-ip           a reserved global address, and <name>-https, the forwarding rule on :443.
Then point the domain's DNS A record at the printed address; the certificate turns ACTIVE once it resolves.

Options (environment variable in brackets):
  --instances LIST    Gateway VMs, comma-separated, all in --zone. Required. [CACHEGATE_INSTANCES]
  --zone ZONE         Their zone. Required. [CLOUDSDK_COMPUTE_ZONE]
  --domain NAME       DNS name the callers use, e.g. cache.example.com. Required. [CACHEGATE_DOMAIN]
  --port PORT         The gateway's port on the VMs (Compose HOST_PORT). [CACHEGATE_PORT] (default: 8081)
  --backend-protocol P  HTTP, or HTTPS when the gateway serves TLS itself (CACHEGATE_TLS_CERT).
                      (default: HTTP; the hop stays inside Google's network)
  --timeout SECONDS   Longest response, /subscribe streams included (they end then and clients reconnect).
                      (default: 30)
  --name PREFIX       Prefix of every resource name. (default: cachegate)
  --network NAME      VPC network of the firewall rule. [CACHEGATE_NETWORK] (default: default)
  --target-tag TAG    Network tag of the gateway VMs. [CACHEGATE_TARGET_TAG] (default: cachegate)
  --project ID        GCP project; unset: gcloud's configured project. [CLOUDSDK_CORE_PROJECT]
  --dry-run           Print the gcloud commands that would run, and run none.
  -h, --help          Show this help.

Example:
  $SCRIPT_NAME --project my-project --instances cachegate-vm --zone us-central1-a --domain cache.example.com
EOF
}

instances=${CACHEGATE_INSTANCES:-}
zone=${CLOUDSDK_COMPUTE_ZONE:-}
domain=${CACHEGATE_DOMAIN:-}
port=${CACHEGATE_PORT:-8081}
backend_protocol=HTTP
timeout=30
name=cachegate
network=${CACHEGATE_NETWORK:-default}
target_tag=${CACHEGATE_TARGET_TAG:-cachegate}
project=${CLOUDSDK_CORE_PROJECT:-}

while [[ $# -gt 0 ]]; do
  if [[ $1 == --*=* ]]; then
    set -- "${1%%=*}" "${1#*=}" "${@:2}"
    continue
  fi
  case $1 in
    --instances) need_value "$@"; instances=$2; shift 2 ;;
    --zone) need_value "$@"; zone=$2; shift 2 ;;
    --domain) need_value "$@"; domain=$2; shift 2 ;;
    --port) need_value "$@"; port=$2; shift 2 ;;
    --backend-protocol) need_value "$@"; backend_protocol=$2; shift 2 ;;
    --timeout) need_value "$@"; timeout=$2; shift 2 ;;
    --name) need_value "$@"; name=$2; shift 2 ;;
    --network) need_value "$@"; network=$2; shift 2 ;;
    --target-tag) need_value "$@"; target_tag=$2; shift 2 ;;
    --project) need_value "$@"; project=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

resource_name='^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'
[[ -n $instances ]] || die "--instances is required: the gateway VMs (see --help)"
[[ -n $zone ]] || die "--zone is required (see --help)"
[[ -n $domain ]] || die "--domain is required: the name callers use, for the managed certificate (see --help)"
[[ $domain =~ ^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$ ]] || die "--domain '$domain' is not a DNS name"
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  die "--port must be a TCP port number, not '$port'"
fi
[[ $backend_protocol == HTTP || $backend_protocol == HTTPS ]] || die "--backend-protocol must be HTTP or HTTPS"
if ! [[ $timeout =~ ^[0-9]+$ ]] || ((timeout < 1 || timeout > 86400)); then
  die "--timeout must be a number of seconds from 1 to 86400"
fi
# The longest derived name (allow-<name>-lb, <name>-https-proxy) must stay a valid resource name.
[[ $name =~ $resource_name && ${#name} -le 50 ]] || die "--name '$name' is not a valid GCP resource name prefix"
[[ $target_tag =~ $resource_name ]] || die "--target-tag '$target_tag' is not a valid network tag"
vms=()
IFS=',' read -r -a vms <<<"${instances// /}"
for vm in "${vms[@]}"; do
  [[ $vm =~ $resource_name ]] || die "instance '$vm' is not a valid VM name"
done

p=()
[[ -z $project ]] || p=(--project="$project")
group=$name-ig
health_check=$name-readyz
firewall=allow-$name-lb
backend=$name-backend
url_map=$name-url-map
certificate=$name-cert
proxy=$name-https-proxy
address=$name-ip
forwarding_rule=$name-https
health_protocol=$(tr '[:upper:]' '[:lower:]' <<<"$backend_protocol")

require_tool gcloud "Install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"

# ensure WHAT DESCRIBE... -- CREATE...: runs CREATE unless DESCRIBE finds the resource. A dry run describes
# nothing and prints every CREATE.
ensure() {
  local what=$1 describe=() create=()
  shift
  while [[ $1 != -- ]]; do
    describe+=("$1")
    shift
  done
  create=("${@:2}")
  if [[ $DRY_RUN == 0 ]] && "${describe[@]}" --format='value(name)' >/dev/null 2>&1; then
    note "$what exists: kept as it is"
    return 0
  fi
  run "${create[@]}"
}

if [[ $DRY_RUN == 1 ]]; then
  note "Dry run: nothing is changed. A real run looks each resource up first and creates only what is missing."
fi

ensure "instance group $group" gcloud compute instance-groups unmanaged describe "$group" --zone="$zone" "${p[@]}" -- \
  gcloud compute instance-groups unmanaged create "$group" --zone="$zone" "${p[@]}"
members=''
if [[ $DRY_RUN == 0 ]]; then
  members=$(gcloud compute instance-groups unmanaged list-instances "$group" --zone="$zone" "${p[@]}" \
    --format='value(instance.basename())' 2>/dev/null || true)
fi
missing=()
for vm in "${vms[@]}"; do
  grep -qx -- "$vm" <<<"$members" || missing+=("$vm")
done
if ((${#missing[@]} > 0)); then
  run gcloud compute instance-groups unmanaged add-instances "$group" --zone="$zone" "${p[@]}" \
    --instances="$(IFS=','; printf '%s' "${missing[*]}")"
fi
run gcloud compute instance-groups unmanaged set-named-ports "$group" --zone="$zone" "${p[@]}" \
  --named-ports="cachegate:$port"

# /readyz, not /livez: a gateway without Redis (or draining on SIGTERM) leaves the rotation; two misses 5 s
# apart take it out, two successes bring it back.
ensure "health check $health_check" gcloud compute health-checks describe "$health_check" "${p[@]}" -- \
  gcloud compute health-checks create "$health_protocol" "$health_check" "${p[@]}" --port="$port" \
  --request-path=/readyz --check-interval=5s --timeout=3s --healthy-threshold=2 --unhealthy-threshold=2

ensure "firewall rule $firewall" gcloud compute firewall-rules describe "$firewall" "${p[@]}" -- \
  gcloud compute firewall-rules create "$firewall" "${p[@]}" --network="$network" --direction=INGRESS \
  --allow="tcp:$port" --source-ranges="$GOOGLE_RANGES" --target-tags="$target_tag" \
  --description="cachegate: Google load balancer proxies and health checks (tcp:$port)"

# Draining as long as Compose's stop_grace_period: a VM leaving the group finishes its requests first.
ensure "backend service $backend" gcloud compute backend-services describe "$backend" --global "${p[@]}" -- \
  gcloud compute backend-services create "$backend" --global "${p[@]}" --load-balancing-scheme=EXTERNAL_MANAGED \
  --protocol="$backend_protocol" --port-name=cachegate --health-checks="$health_check" --timeout="${timeout}s" \
  --connection-draining-timeout=15s
backends=''
if [[ $DRY_RUN == 0 ]]; then
  backends=$(gcloud compute backend-services describe "$backend" --global "${p[@]}" \
    --format='value(backends[].group)' 2>/dev/null || true)
fi
if [[ $backends != *"/instanceGroups/$group"* ]]; then
  run gcloud compute backend-services add-backend "$backend" --global "${p[@]}" --instance-group="$group" \
    --instance-group-zone="$zone" --balancing-mode=UTILIZATION --max-utilization=0.8
fi

ensure "URL map $url_map" gcloud compute url-maps describe "$url_map" --global "${p[@]}" -- \
  gcloud compute url-maps create "$url_map" --global "${p[@]}" --default-service="$backend"
ensure "certificate $certificate" gcloud compute ssl-certificates describe "$certificate" --global "${p[@]}" -- \
  gcloud compute ssl-certificates create "$certificate" --global "${p[@]}" --domains="$domain"
ensure "HTTPS proxy $proxy" gcloud compute target-https-proxies describe "$proxy" --global "${p[@]}" -- \
  gcloud compute target-https-proxies create "$proxy" --global "${p[@]}" --url-map="$url_map" \
  --ssl-certificates="$certificate"
ensure "address $address" gcloud compute addresses describe "$address" --global "${p[@]}" -- \
  gcloud compute addresses create "$address" --global "${p[@]}" --ip-version=IPV4
ensure "forwarding rule $forwarding_rule" gcloud compute forwarding-rules describe "$forwarding_rule" --global "${p[@]}" -- \
  gcloud compute forwarding-rules create "$forwarding_rule" --global "${p[@]}" \
  --load-balancing-scheme=EXTERNAL_MANAGED --address="$address" --target-https-proxy="$proxy" --ports=443

if [[ $DRY_RUN == 1 ]]; then
  note "Then: point $domain at the address ($address) and wait for the certificate to be ACTIVE."
  exit 0
fi
ip=$(gcloud compute addresses describe "$address" --format='value(address)' --global "${p[@]}")
note "Done. Point an A record for $domain at $ip; the certificate becomes ACTIVE once it resolves:"
note "  gcloud compute ssl-certificates describe $certificate --global --format='value(managed.status)'"
note "Then https://$domain/readyz answers through the load balancer."
