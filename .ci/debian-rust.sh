# Sourced by .ci/msrv.sh and .ci/windows.sh: Debian 12's second Rust toolchain
# (packages rustc-web, cargo-web, rust-web-src: rustc, cargo and the standard
# library's source in /usr/bin and /usr/lib/rustlib, beside rustup's, which
# stays first on PATH). Pinned to the declared rust-version, so one toolchain
# proves the minimum and builds for Windows and macOS (-Zbuild-std).
RUSTWEB_VERSION=${RUSTWEB_VERSION:-1.85.0+dfsg3-1~deb12u3}

# need PACKAGE...: the pinned toolchain plus PACKAGEs, installed once (root).
need() {
  local pkgs=() p
  [ "$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)" = "$RUSTWEB_VERSION" ] &&
    [ "$(dpkg-query -W -f='${Version}' rust-web-src 2>/dev/null || true)" = "$RUSTWEB_VERSION" ] ||
    pkgs+=("rustc-web=$RUSTWEB_VERSION" "cargo-web=$RUSTWEB_VERSION"
           "rust-web-src=$RUSTWEB_VERSION" "libstd-rust-web-dev=$RUSTWEB_VERSION")
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || pkgs+=("$p")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  echo "ci: installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends --allow-downgrades "${pkgs[@]}" >/dev/null
}

# debian_cargo ARGS...: that toolchain's cargo, with its own rustc.
debian_cargo() { RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo "$@"; }
