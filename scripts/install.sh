#!/usr/bin/env bash
# Install the lead scoring engine into ./.venv (pinned requirements.txt).
#   --tests  also install what the test suite needs beyond Python packages: Debian's chromium (browser
#            test) and the BigQuery emulator in its own ./.venv-bq.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

if [ "$want_tests" = 1 ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -x .venv-bq/bin/crucible ]; then
    "$PY" -m venv .venv-bq
    .venv-bq/bin/python -m pip install --quiet --disable-pip-version-check --pre -r requirements-emulator.txt
  fi
fi
