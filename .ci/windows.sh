#!/usr/bin/env bash
# Windows and macOS from a Debian 12 machine, with the toolchain of
# .ci/debian-rust.sh and -Zbuild-std (the standard library built from source
# for the target, so no prebuilt one is needed):
#
#   .ci/windows.sh              both steps below
#   .ci/windows.sh check        cargo check --workspace --all-targets for
#                               x86_64-pc-windows-msvc and aarch64-apple-darwin
#   .ci/windows.sh test [ARGS]  cargo test --workspace [ARGS] built for
#                               x86_64-pc-windows-gnu and run under Wine
#                               (e.g. `test -p tugas1 -- --include-ignored`)
#   .ci/windows.sh run X.exe [ARGS]  one Windows program under the same Wine
#
# Run from anywhere, as root (it installs the Debian packages once). Tests that
# cannot run on Windows are #[cfg_attr(windows, ignore = "needs ...")].
# Env: TARGET_DIR (default target/xplat), WINEPREFIX (default /tmp/pj-wine-UID),
# TEST_BINARY_TIMEOUT (seconds one test binary may run under Wine, default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/debian-rust.sh
root=$PWD
TARGET_DIR=${TARGET_DIR:-$root/target/xplat}
# Outside the workspace: tests make temp folders in it (C:\users\...\Temp) and
# cargo must not think a crate copied there belongs to this workspace.
export WINEPREFIX=${WINEPREFIX:-${TMPDIR:-/tmp}/pj-wine-$(id -u)} WINEDEBUG=-all
GNU=x86_64-pc-windows-gnu

xcargo() { RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$TARGET_DIR" debian_cargo "$@"; }

check() {
  need
  local t
  for t in x86_64-pc-windows-msvc aarch64-apple-darwin; do
    echo "windows.sh: cargo check --workspace --all-targets --target $t"
    xcargo check -Zbuild-std=std,panic_abort --target "$t" --workspace --all-targets --locked
  done
}

# A Wine prefix where Rust programs start: Wine 8 lacks bcryptprimitives.dll
# (see .ci/bcryptprimitives.c).
wine_prefix() {
  local sys=$WINEPREFIX/drive_c/windows/system32
  [ -f "$sys/bcryptprimitives.dll" ] && return 0
  mkdir -p "$WINEPREFIX"
  /usr/lib/wine/wine64 cmd /c exit >/dev/null 2>&1 || true
  x86_64-w64-mingw32-gcc -shared -O2 -o "$sys/bcryptprimitives.dll" .ci/bcryptprimitives.c
}

# The start/end objects the windows-gnu linker wants beside the standard
# library (rsbegin.o, rsend.o): a prebuilt standard library ships them,
# -Zbuild-std does not, so build them from the same source (on x86-64 they
# are empty) into a folder that rustc searches (-L).
rtstartup() {
  local dir=$TARGET_DIR/rtstartup f
  mkdir -p "$dir"
  for f in rsbegin rsend; do
    [ -f "$dir/$f.o" ] || RUSTC_BOOTSTRAP=1 /usr/bin/rustc --target $GNU --emit=obj -Cpanic=abort -O \
      -o "$dir/$f.o" /usr/lib/rustlib/src/rust/library/rtstartup/$f.rs
  done
  echo "$dir"
}

wine_env() {
  need binutils-mingw-w64-x86-64 gcc-mingw-w64-x86-64 wine64 wine
  wine_prefix
  # A test binary that hangs under Wine is killed, not CI; one that Wine
  # itself fails under is run once more (see .ci/wine-runner.sh).
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$root/.ci/wine-runner.sh"
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-L native=$(rtstartup)"
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS
}

test_wine() {
  wine_env
  # One wineserver for the whole run (-p: it stays when a program ends), so
  # a test binary never starts while the last one's server is shutting down.
  /usr/lib/wine/wineserver64 -p || true
  trap '/usr/lib/wine/wineserver64 -k 2>/dev/null || true' EXIT
  echo "windows.sh: cargo test --target $GNU under $(/usr/lib/wine/wine64 --version) $*"
  xcargo test -Zbuild-std=std,panic_abort,panic_unwind --target $GNU --locked "$@"
}

mode=${1:-all}
shift || true
case "$mode" in
  all) check; test_wine --workspace ;;
  check) check ;;
  test) test_wine "$@" ;;
  run) wine_env; exec /usr/lib/wine/wine64 "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
