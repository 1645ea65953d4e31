#!/usr/bin/env bash
# The offline kit's aarch64 half on an emulated ARM64 device (issue 12, "Must show" 4).
#
# Debian's arm64 python3.11 (apt-get download, unpacked into a sysroot, nothing installed on this
# machine) runs under qemu user-mode; the kit's own install.sh installs the linux_aarch64-cp311 wheels
# into a fresh PREFIX with --no-index, then `runtime info` and `predict` run on the emulated Python.
#
#   benchmarks/kit_aarch64.sh [KIT.tar.gz]     (builds one for linux_aarch64 / 3.11 when none is given)
#
# Needs qemu-user-static and Debian's arm64 package lists; run from the repository root:
#   apt-get install -y qemu-user-static && dpkg --add-architecture arm64 && apt-get update
# Exits 77 (skipped) when qemu or the arm64 lists are missing. There is no binfmt_misc here, so the
# aarch64 Python is started through qemu explicitly, by a wrapper that install.sh gets as PYTHON.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$QEMU" ] || { echo "kit_aarch64: qemu-aarch64 not found: apt-get install qemu-user-static" >&2; exit 77; }
apt-cache show python3.11-minimal:arm64 >/dev/null 2>&1 \
    || { echo "kit_aarch64: no arm64 package lists: dpkg --add-architecture arm64 && apt-get update" >&2; exit 77; }

WORK=$(mktemp -d /tmp/kit-aarch64.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SYSROOT=$WORK/sysroot
PREFIX=$WORK/prefix
seconds() { date +%s.%N; }
elapsed() { printf '%.1f s' "$(echo "$(seconds) - $1" | bc)"; }

# 1. Debian bookworm's arm64 python3.11 and the libraries it and onnxruntime load, unpacked
start=$(seconds)
mkdir -p "$WORK/debs" "$SYSROOT"
(cd "$WORK/debs" && apt-get download -qq 2>/dev/null \
    python3.11-minimal:arm64 libpython3.11-minimal:arm64 libpython3.11-stdlib:arm64 python3.11:arm64 \
    python3.11-venv:arm64 python3-pip-whl python3-setuptools-whl media-types libc6:arm64 libgcc-s1:arm64 \
    libstdc++6:arm64 zlib1g:arm64 libexpat1:arm64 libssl3:arm64 libffi8:arm64 libbz2-1.0:arm64 liblzma5:arm64 \
    libsqlite3-0:arm64 libuuid1:arm64 libcrypt1:arm64 libncursesw6:arm64 libtinfo6:arm64 libreadline8:arm64)
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$SYSROOT"; done
echo "sysroot: $(ls "$WORK"/debs | wc -l) Debian arm64 packages unpacked in $(elapsed "$start")"

# qemu 7.2's user mode passes this machine's x86 /proc/cpuinfo through, and onnxruntime (its cpuinfo
# library) then segfaults on import; with -L qemu serves the sysroot's file instead: two Cortex-A72 cores
mkdir -p "$SYSROOT/proc"
for core in 0 1; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$core"
    printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
done > "$SYSROOT/proc/cpuinfo"

# -0 "$0": the emulated Python's sys.executable is the name it was started by, so a venv's
# bin/python (a link to this wrapper) is a venv, and its subprocesses (ensurepip, pip) run emulated too
cat > "$WORK/python-aarch64" <<EOF
#!/bin/sh
exec "$QEMU" -cpu cortex-a72 -L "$SYSROOT" -0 "\$0" "$SYSROOT/usr/bin/python3.11" "\$@"
EOF
chmod +x "$WORK/python-aarch64"
"$WORK/python-aarch64" -c 'import platform, sys; print("emulated python:", platform.machine(), sys.version.split()[0])'

# 2. the kit
KIT=${1:-}
if [ -z "$KIT" ]; then
    start=$(seconds)
    KIT=$WORK/kit.tar.gz
    "$ROOT/.venv/bin/python" -m export kit "$ROOT/models/quality" --platform linux_aarch64 --python 3.11 \
        --extras serve,verify --output "$KIT" 2>/dev/null
    echo "kit built in $(elapsed "$start")"
fi
mkdir -p "$WORK/unpacked"
tar xzf "$KIT" -C "$WORK/unpacked"
KIT_DIR=$(echo "$WORK"/unpacked/*)

# 3. the kit's own install.sh: sums, platform (aarch64 / 3.11), venv, pip --no-index, bundle, runtime info
start=$(seconds)
PYTHON=$WORK/python-aarch64 http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
    "$KIT_DIR/install.sh" "$PREFIX"
echo "install.sh finished in $(elapsed "$start")"

# 4. predict on the emulated device
"$ROOT/.venv/bin/python" - "$PREFIX/models/quality/$(cat "$PREFIX/models/quality/CURRENT")/example_input.json" \
    "$WORK/parts.csv" <<'EOF'
import csv, json, sys
record = json.load(open(sys.argv[1]))
rows = [record, {**record, "temperature": 260.0, "machine_type": "C"}, {**record, "vibration": 7.5}]
with open(sys.argv[2], "w", newline="") as stream:
    writer = csv.DictWriter(stream, fieldnames=list(record))
    writer.writeheader()
    writer.writerows(rows)
EOF
start=$(seconds)
"$PREFIX/venv/bin/python" -m runtime predict "$PREFIX/models/quality" --input "$WORK/parts.csv" \
    --output "$WORK/predictions.csv"
echo "predict (emulated aarch64) in $(elapsed "$start"):"
cat "$WORK/predictions.csv"
"$ROOT/.venv/bin/python" - "$ROOT/models/quality" "$WORK/parts.csv" "$WORK/predictions.csv" <<'EOF'
import csv, sys
import runtime
rows = list(csv.DictReader(open(sys.argv[2])))
columns = runtime.load(sys.argv[1]).manifest.inputs
typed = [{c.name: (float(r[c.name]) if c.kind == "number" else r[c.name]) for c in columns} for r in rows]
expected = runtime.load(sys.argv[1]).predict_batch(typed)
got = list(csv.DictReader(open(sys.argv[3])))
assert [str(label) for label in expected.labels] == [row["label"] for row in got], (expected.labels, got)
print(f"same labels as x86_64 for {len(got)} rows: {[row['label'] for row in got]}")
EOF
