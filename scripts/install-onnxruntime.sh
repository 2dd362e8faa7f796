#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library from PyPI's onnxruntime wheel into .ort/ (idempotent).
# ort's own download reaches a CDN that is not reachable here; the wheel ships the same library.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.31.1
WHEEL=onnxruntime-${VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
MEMBER=onnxruntime/capi/libonnxruntime.so.${VERSION}
LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
DEST=.ort/libonnxruntime.so.${VERSION}

if [ -f "$DEST" ] && echo "$LIB_SHA256  $DEST" | sha256sum -c --status; then
  echo "onnxruntime: $DEST present and verified"
  exit 0
fi

mkdir -p .ort/wheel
if ! [ -f ".ort/wheel/$WHEEL" ] || ! echo "$WHEEL_SHA256  .ort/wheel/$WHEEL" | sha256sum -c --status; then
  rm -f ".ort/wheel/$WHEEL"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    "onnxruntime==${VERSION}" -d .ort/wheel
fi
echo "$WHEEL_SHA256  .ort/wheel/$WHEEL" | sha256sum -c --status \
  || { echo "onnxruntime: wheel sha256 mismatch" >&2; exit 1; }
python3 - "$WHEEL" "$MEMBER" "$DEST" <<'PY'
import sys, zipfile, shutil
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(".ort/wheel/" + wheel) as z, z.open(member) as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
PY
mv "$DEST.tmp" "$DEST"
echo "$LIB_SHA256  $DEST" | sha256sum -c --status \
  || { echo "onnxruntime: library sha256 mismatch" >&2; rm -f "$DEST"; exit 1; }
rm -rf .ort/wheel
echo "onnxruntime: installed $DEST"
