#!/usr/bin/env bash
# What .github/workflows/release.yml does, without publishing: checks that the tag names the packages'
# version, builds from clean, runs `npm publish --dry-run` of both packages, and builds and starts the image's
# stages outside Docker (scripts/image-dry-run.ts). The release workflow runs it before it publishes.
#
#   scripts/release-dry-run.sh [--tag v0.1.0] [--skip-image]
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2

tag=''
image=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --skip-image) image=0; shift ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

version_of() { node -p "require('./packages/$1/package.json').version"; }
client=$(version_of client)
server=$(version_of server)
# Both packages are released together under one version. The server depends on no other package of the
# release (decision 0206), so the order they reach the registry in does not matter.
if [ "$client" != "$server" ]; then
  echo "versions disagree: client $client, server $server" >&2
  exit 1
fi
if node -e "process.exit(require('./packages/server/package.json').dependencies['@cachegate/client'] ? 0 : 1)"; then
  echo "packages/server depends on @cachegate/client again: its tarball would not install alone (decision 0206)" >&2
  exit 1
fi
if [ -n "$tag" ] && [ "$tag" != "v$client" ]; then
  echo "tag $tag does not name the packages' version v$client" >&2
  exit 1
fi
echo "release: version $client${tag:+ (tag $tag)}"

# From clean: tsc -b would otherwise pack output left over from a deleted or renamed source file.
rm -rf packages/client/dist packages/server/dist packages/*/tsconfig.tsbuildinfo
npm run --silent build

output=$(npm publish --dry-run --workspace @cachegate/client --workspace @cachegate/server 2>&1)
echo "$output" | grep -E '^\+ |Publishing to|total files' || true
# npm rewrites a manifest it finds wrong at publish time; what is published must be what was tested.
if echo "$output" | grep -q 'auto-corrected'; then
  echo "$output" | grep -A5 'auto-corrected' >&2
  exit 1
fi
for name in @cachegate/client @cachegate/server; do
  echo "$output" | grep -q "^+ $name@$client\$" || { echo "npm publish --dry-run did not publish $name@$client" >&2; exit 1; }
done

if [ $image -eq 1 ]; then
  npx --no-install tsx scripts/image-dry-run.ts
fi
echo "release dry run: ok"
