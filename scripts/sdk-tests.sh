#!/usr/bin/env bash
# The official SDKs (openai, anthropic, google-genai from PyPI) against the real gateway binary
# and the mock upstream: every inbound × upstream protocol pair. Exits with pytest's code.
# Extra arguments go to pytest (e.g. `scripts/sdk-tests.sh -k gemini`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/sdk/requirements.txt

if [ -z "${SWITCHYARD_BIN:-}" ]; then
    cargo build -q --locked --bin switchyard
fi

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider tests/sdk "$@"
exit $?
