#!/usr/bin/env bash
# The official SDKs (openai, anthropic, google-genai from PyPI) against the real gateway binary
# and the mock upstream: every inbound × upstream protocol pair. Exits with pytest's code.
#
#   scripts/sdk-tests.sh            the pinned versions of tests/sdk/requirements.txt (.venv);
#                                   what the test command runs, the same in every clone
#   scripts/sdk-tests.sh --latest   the newest releases (tests/sdk/requirements-latest.txt) in
#                                   their own venv (.venv-latest); a separate step, not in CI
#
# Extra arguments go to pytest (e.g. `scripts/sdk-tests.sh -k gemini`).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=tests/sdk/requirements.txt
pip_flags=()
if [ "${1:-}" = "--latest" ]; then
    shift
    venv=.venv-latest
    requirements=tests/sdk/requirements-latest.txt
    pip_flags=(--upgrade)
fi

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${pip_flags[@]}" -r "$requirements"
if [ "$venv" = .venv-latest ]; then
    "$venv/bin/python" -m pip freeze | grep -iE '^(openai|anthropic|google-genai|pytest)==' | sed 's/^/testing /'
fi

if [ -z "${SWITCHYARD_BIN:-}" ]; then
    cargo build -q --locked --bin switchyard
fi

set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk "$@"
exit $?
