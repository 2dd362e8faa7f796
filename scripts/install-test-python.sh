#!/usr/bin/env bash
# The Python the passkey tests run their software WebAuthn authenticator with
# (tests/tools/soft-authenticator): a virtual environment in ./.venv with the pinned packages
# of its requirements.txt from PyPI. Idempotent: reinstalled only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."

REQ=tests/tools/soft-authenticator/requirements.txt
VENV=.venv
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "installing python3-venv (Debian package)…"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
fi
echo "installing the passkey tests' Python packages into $VENV (PyPI, pinned)…"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" > "$STAMP"
