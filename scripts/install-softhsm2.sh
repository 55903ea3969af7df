#!/usr/bin/env bash
# Installs SoftHSM2 (Debian's softhsm2, pinned) when it is missing, for the tests that seal
# a data directory's root key on a PKCS#11 token, and prints the PKCS#11 module's path.
# Runs apt-get as root (as CI does), through sudo otherwise.
set -euo pipefail

VERSION="2.6.1-2.1" # Debian bookworm
MODULE=/usr/lib/softhsm/libsofthsm2.so

if command -v softhsm2-util >/dev/null && [ -e "$MODULE" ]; then
    echo "$MODULE"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    echo "SoftHSM2 is missing and this user cannot install it: run" \
        "'apt-get install softhsm2=$VERSION' as root" >&2
    exit 1
fi
{
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "softhsm2=$VERSION"
} >&2
[ -e "$MODULE" ] || { echo "softhsm2 installed but $MODULE is missing" >&2; exit 1; }
echo "$MODULE"
