#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian machine with the Rust toolchain.
# Installs what it needs first (Debian packages, cargo-nextest), builds once, runs in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: cmake builds pingora's zlib-ng; nginx terminates TLS in the HTTPS upstream test;
# redis-server backs the Redis store tests.
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

# Lints first (the crate denies unwrap/expect/panic outside tests), then every test in parallel.
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
SWITCHYARD_REQUIRE_REDIS=1 cargo nextest run --locked --no-fail-fast --all-targets
cargo test --locked --doc

# The official Python SDKs (openai, anthropic, google-genai) against the gateway: the 3x3 matrix.
./scripts/sdk-tests.sh
