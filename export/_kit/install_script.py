"""``install.sh``: what the operator runs on the device, ``./install.sh PREFIX``.

It trusts nothing it has not checked: every file against ``SHA256SUMS`` (and no file beyond them,
since pip would pick up any wheel dropped into the folder), the machine's platform, Python and
glibc against the kit's targets, then pip with no index, no configuration and no cache, so the kit
is the only source. It ends by loading the bundle with the installed runtime (``runtime info``),
so a kit that installs but cannot predict fails there, on the device, not on the first part.
"""

from __future__ import annotations

from .targets import GLIBC_MINIMUM

__all__ = ["install_script"]

_TEMPLATE = r"""#!/usr/bin/env bash
# factory-edge offline kit: ./install.sh PREFIX  (see README.md beside this file)
set -euo pipefail

REQUIREMENT='@REQUIREMENT@'
MODEL='@MODEL@'
VERSION='@VERSION@'
GLIBC_MINIMUM='@GLIBC@'
PYTHON=${PYTHON:-python3}

fail() { echo "install.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || fail "usage: ./install.sh PREFIX (e.g. /opt/factory-edge); PYTHON=python3.11 picks the interpreter"
case $1 in /*) PREFIX=$1 ;; *) PREFIX=$PWD/$1 ;; esac
KIT=$(cd "$(dirname "$0")" && pwd)
cd "$KIT"

# 1. every file exactly as built, and no file the sums do not list (pip would take any wheel it finds)
command -v sha256sum >/dev/null || fail "sha256sum is missing (GNU coreutils)"
sha256sum --check --quiet --strict SHA256SUMS \
    || fail "SHA256SUMS does not match: the kit is damaged or was changed; copy it again"
listed=$(cut -c67- SHA256SUMS | LC_ALL=C sort)
extra=$(comm -13 <(echo "$listed") <(find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort))
[ -z "$extra" ] || fail "files not listed in SHA256SUMS: $(echo $extra | cut -c1-200); remove them or copy the kit anew"
echo "install.sh: SHA256SUMS verified ($(wc -l < SHA256SUMS) files)"

# 2. this machine: platform, Python, glibc
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found: install Python 3 or set PYTHON=/path/to/python3"
probe=$("$PYTHON" -c '
import os, platform, sys
try:
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except (ValueError, OSError):
    libc = ""
print(platform.machine(), "%d.%d" % sys.version_info[:2], libc.split()[-1] if libc.startswith("glibc ") else "none")') \
    || fail "$PYTHON does not run (see above): set PYTHON=/path/to/python3"
read -r machine python glibc <<< "$probe"
case $machine in amd64) machine=x86_64 ;; arm64) machine=aarch64 ;; esac
target="linux_${machine}-cp${python/./}"
[ -d "wheels/$target" ] || fail "this kit has no wheels for linux_${machine} / CPython ${python} ($PYTHON);" \
    "it holds: $(ls wheels | tr '\n' ' ')- set PYTHON to another interpreter, or build a kit with" \
    "python -m export kit BUNDLE --platform linux_${machine} --python ${python}"
[ "$glibc" != none ] && [ "$(printf '%s\n' "$GLIBC_MINIMUM" "$glibc" | sort -V | head -n1)" = "$GLIBC_MINIMUM" ] \
    || fail "this machine's C library is $glibc; the kit's wheels (manylinux_2_28) need glibc >= $GLIBC_MINIMUM"

# 3. the virtual environment
VENV=$PREFIX/venv
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || fail "could not create $VENV (on Debian or Ubuntu: apt-get install python3-venv)"
fi
venv_python=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$venv_python" = "$python" ] || fail "$VENV runs Python $venv_python, not $python: remove it or set PYTHON to match"

# 4. install from the kit only: no index, no pip configuration or PIP_* variables, no cache
for name in $(compgen -e | grep '^PIP_' || true); do unset "$name"; done
PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install --quiet --no-index --no-cache-dir \
    --disable-pip-version-check --only-binary=:all: --find-links "$KIT/wheels/$target" "$REQUIREMENT" \
    || fail "pip could not install $REQUIREMENT from wheels/$target (see above)"
echo "install.sh: installed $REQUIREMENT into $VENV ($target)"

# 5. the bundle; an installed version is never overwritten, CURRENT moves atomically
mkdir -p "$PREFIX/models/$MODEL"
destination=$PREFIX/models/$MODEL/$VERSION
if [ -e "$destination" ]; then
    diff -r -q "models/$MODEL/$VERSION" "$destination" >/dev/null \
        || fail "$destination exists and differs from this kit's $MODEL $VERSION: versions are never overwritten"
else
    cp -R "models/$MODEL/$VERSION" "$destination.partial-$$"
    mv "$destination.partial-$$" "$destination"
fi
printf '%s\n' "$VERSION" > "$PREFIX/models/$MODEL/.CURRENT.partial-$$"
mv -f "$PREFIX/models/$MODEL/.CURRENT.partial-$$" "$PREFIX/models/$MODEL/CURRENT"

# 6. prove it on this machine: the installed runtime loads the bundle and replays its golden cases
"$VENV/bin/python" -m runtime info "$PREFIX/models/$MODEL" \
    || fail "the installed runtime refused $MODEL $VERSION (see above)"
echo "install.sh: done. Predict with: $VENV/bin/python -m runtime predict $PREFIX/models/$MODEL" \
    "--input parts.csv --output predictions.csv"
"""


def install_script(requirement: str, model: str, version: str) -> str:
    """The text of ``install.sh`` for a kit installing ``requirement`` and the bundle ``model`` ``version``."""
    values = {
        "@REQUIREMENT@": requirement,
        "@MODEL@": model,
        "@VERSION@": version,
        "@GLIBC@": ".".join(map(str, GLIBC_MINIMUM)),
    }
    text = _TEMPLATE
    for placeholder, value in values.items():
        if "'" in value:  # single-quoted in the script; names and versions are [A-Za-z0-9._-] already
            raise ValueError(f"{value!r} cannot go into install.sh")
        text = text.replace(placeholder, value)
    return text
