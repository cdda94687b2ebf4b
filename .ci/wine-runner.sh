#!/usr/bin/env bash
# Cargo's runner for the x86_64-pc-windows-gnu test binaries (set by
# .ci/windows.sh): runs one binary under Wine, killed after
# TEST_BINARY_TIMEOUT seconds (libtest names a test that runs for over 60 s).
#
# Wine itself can fail under a program: "wine client error:0: recvmsg:
# Connection reset by peer" means the Wine process lost its wineserver, and
# the binary ends with status 1 before or between its tests. That says
# nothing about the tests, so such a run is made once more; a test that
# fails is never retried (its output has no such line).
set -uo pipefail
err=$(mktemp)
trap 'rm -f "$err"' EXIT
run() {
  timeout "${TEST_BINARY_TIMEOUT:-300}" /usr/lib/wine/wine64 "$@" 2>"$err"
  local rc=$?
  cat "$err" >&2
  return $rc
}
run "$@"
rc=$?
if [ $rc -ne 0 ] && grep -q '^wine client error' "$err"; then
  echo "wine-runner: Wine lost its wineserver under $(basename "$1") (status $rc); running it once more" >&2
  run "$@"
  rc=$?
fi
exit $rc
