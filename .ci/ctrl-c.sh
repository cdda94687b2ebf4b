#!/usr/bin/env bash
# Ctrl-C ends every server binary with its normal exit code (0) and no
# backtrace. For each server: build it alone (so target/debug/NAME is that
# crate's build, not another crate's same-named one), copy it away, start it
# on a free port, wait for its `listening on` line, connect a client that
# stays open, send SIGINT (what a terminal's Ctrl-C sends), and require exit
# code 0 within 10 s with no "panicked" on stderr.
#
#   bash .ci/ctrl-c.sh            every server
#   bash .ci/ctrl-c.sh tugas6     one crate's
set -euo pipefail
cd "$(dirname "$0")/.."

# crate binary extra-flags (UDP servers get no client)
SERVERS=(
  "tugas1 server --port 0"
  "tugas1a server --port 0 --output $(mktemp -d)/hasil.txt"
  "tugas1b server --port 0"
  "tugas2 udp_server --port 0"
  "tugas2 udp_fileserver --port 0 --output $(mktemp -d)/data.out"
  "tugas3 server --port 0"
  "tugas4 server --port 0 --dir $(mktemp -d)"
  "tugas5 server --port 0"
  "tugas6 server --port 0"
  "tugas8 server --port 0"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
for entry in "${SERVERS[@]}"; do
  read -r crate bin args <<<"$entry"
  [ $# -eq 0 ] || [ "$1" = "$crate" ] || continue
  cargo build -q -p "$crate" --bin "$bin"
  exe="$work/$crate-$bin"
  cp "${CARGO_TARGET_DIR:-target}/debug/$bin" "$exe"
  out="$work/$crate-$bin.out" err="$work/$crate-$bin.err"
  : >"$out"
  # shellcheck disable=SC2086
  "$exe" --host 127.0.0.1 $args >"$out" 2>"$err" &
  pid=$!
  addr=""
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on //p' "$out" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "FAIL  $crate $bin: no 'listening on' line"; cat "$err"; failed=$((failed + 1))
    kill -9 "$pid" 2>/dev/null || true; continue
  fi
  client=""
  case "$bin" in
    udp_*) ;;
    *) exec {client}<>"/dev/tcp/${addr%:*}/${addr##*:}" ;;
  esac
  kill -INT "$pid"
  code=0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL  $crate $bin: still running 10 s after Ctrl-C"; kill -9 "$pid"; failed=$((failed + 1))
  else
    wait "$pid" || code=$?
    if [ "$code" -ne 0 ] || grep -q panicked "$err"; then
      echo "FAIL  $crate $bin: exit $code after Ctrl-C"; cat "$err"; failed=$((failed + 1))
    else
      echo "PASS  $crate $bin: Ctrl-C with a client connected, exit 0"; passed=$((passed + 1))
    fi
  fi
  [ -z "$client" ] || exec {client}>&-
done
echo "ctrl-c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
