#!/usr/bin/env bash
# The declared rust-version is the true minimum: build and test the whole
# workspace, with the locked dependencies, using exactly that compiler
# (Debian's rustc-web/cargo-web, pinned in .ci/debian-rust.sh). Run from
# anywhere, as root (it installs the packages once). Env: TARGET_DIR
# (default target/msrv).
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/debian-rust.sh
need
want=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' common/Cargo.toml)
for toml in */Cargo.toml; do
  got=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' "$toml")
  [ "$got" = "$want" ] || { echo "msrv: $toml says rust-version $got, common says $want" >&2; exit 1; }
done
have=$(/usr/bin/rustc --version | awk '{print $2}')
case "$have" in
  "$want" | "$want".*) ;;
  *) echo "msrv: /usr/bin/rustc is $have, rust-version says $want" >&2; exit 1 ;;
esac
echo "msrv: rust-version $want, testing with $(/usr/bin/rustc --version)"
export CARGO_TARGET_DIR=${TARGET_DIR:-target/msrv}
debian_cargo test --workspace --locked
