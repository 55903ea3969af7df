#!/usr/bin/env bash
# Installs the pinned PyKMIP server (PyPI's pykmip, with its dependencies pinned too) into a
# venv beside this script and prints the path of the venv's python, which runs the server
# as `python -m kmip.services.server ...`. Idempotent: a second run only checks.
#
#   COFFER_PYKMIP="$(tests/engines/pykmip.sh)"
set -euo pipefail

# Pinned together, the whole tree: PyKMIP 0.11.0 with SQLAlchemy 1.4 (PyKMIP predates
# SQLAlchemy 2), the cryptography release it was run with here, and their dependencies; a
# change of any of them is a new stamp and a reinstall.
PINS=(pykmip==0.11.0 sqlalchemy==1.4.54 greenlet==3.5.6 cryptography==43.0.3 cffi==2.1.1
      pycparser==3.12 requests==2.32.3 urllib3==2.8.0 idna==3.21 charset-normalizer==3.5.3
      certifi==2026.10.19.post1 six==1.16.0 enum-compat==0.0.3)
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$DIR/.venv-pykmip"
STAMP="$VENV/.pykmip-pins"

if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV" >&2
fi
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "${PINS[*]}" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
    echo "${PINS[*]}" > "$STAMP"
fi
if ! "$VENV/bin/python" -c 'import kmip.services.server' 2>/dev/null; then
    echo "pykmip did not install a usable server into $VENV" >&2
    exit 1
fi
echo "$VENV/bin/python"
