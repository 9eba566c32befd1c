#!/usr/bin/env bash
# Fill .whl/ with the wheels that scripts/gpu_check.sh needs on a GPU machine that has
# torch, transformers and accelerate but no TRL (as the lent H200 does), for Python 3.12
# on x86-64. Run it on a machine that reaches PyPI; the folder stays under 64 MiB.
# EXTRA="name==version ..." adds more (e.g. a newer pyarrow if that machine's is too old
# for datasets).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEST=${WHEELS:-.whl}
PACKAGES="trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 pydantic==2.14.4
pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 ${EXTRA:-}"
mkdir -p "$DEST"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> "$(git rev-parse --git-path info/exclude)"
for package in $PACKAGES; do
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$DEST" "$package"
done
du -sh "$DEST"
