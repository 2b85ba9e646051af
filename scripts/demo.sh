#!/usr/bin/env bash
# Runs `switchyard demo` on a fresh Debian machine with the Rust toolchain: installs cmake
# (needed to build Pingora's zlib-ng) if missing, builds, and starts the gateway in front of
# the built-in mock upstream. Extra arguments go to `switchyard demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake
fi
exec cargo run --release --locked --bin switchyard -- demo "$@"
