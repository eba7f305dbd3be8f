#!/usr/bin/env bash
# Runs every part of the test suite (what `make test` runs after set-up and
# build), each to its end even when an earlier one failed, so one failure
# cannot hide another, then prints a table of all parts and exits 1 if any
# failed. Each part's output is shown as it runs and kept in
# test-artifacts/test-all/PART.log.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=test-artifacts/test-all
mkdir -p "$logs"

names=() results=() times=() details=()

# step NAME COMMAND...: runs COMMAND, records its result and time.
step() {
  local name=$1 log="$logs/$1.log" start=$SECONDS rc
  shift
  printf '\n==== %s: %s\n' "$name" "$*"
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  names+=("$name")
  times+=("$((SECONDS - start))s")
  if [ "$rc" -eq 0 ]; then
    results+=("ok")
    details+=("")
  else
    results+=("FAILED ($rc)")
    # Name the failed Go tests, or else the last line the step printed.
    local what
    what=$(grep -E '^\s*--- FAIL: ' "$log" | sed -E 's/^\s*--- FAIL: ([^ ]+).*/\1/' | head -12 | paste -sd' ' -)
    [ -z "$what" ] && what=$(grep -v '^\s*$' "$log" | tail -1 | cut -c1-110)
    details+=("$what (log: $log)")
  fi
}

step go-vet go vet ./...
step go-vet-desktop go vet -tags desktop .
step go-test env ATOLL_REQUIRE_E2E=1 ATOLL_REQUIRE_PDFTOTEXT=1 ATOLL_REQUIRE_PG=1 go test -count=1 -timeout 40m ./...
step frontend-test bash -c 'cd frontend && npm test --silent'
step window-smoke scripts/window-smoke.sh
# The Linux packages, built, linted, installed, started and removed; with
# ATOLL_DIST=1 also the Windows installer and the CLI archives.
if [ "${ATOLL_DIST:-}" = 1 ]; then
  step dist bash -c 'make dist-check && scripts/dist-test.sh'
else
  step dist bash -c 'make dist && scripts/dist-test.sh'
fi

failed=0
printf '\n==== summary\n'
for i in "${!names[@]}"; do
  printf '%-16s %-12s %6s  %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}" "${details[$i]}"
  [ "${results[$i]}" = ok ] || failed=$((failed + 1))
done
if [ "$failed" -gt 0 ]; then
  echo "$failed of ${#names[@]} parts failed."
  exit 1
fi
echo "all ${#names[@]} parts passed."
