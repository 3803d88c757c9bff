#!/usr/bin/env bash
# Set up everything the book needs on a fresh Debian machine, then stamp the venv.
#   system: Fashion-MNIST (Debian package), Chromium + driver (browser tests), Node/npm
#   python: .venv from requirements-lock.txt, torch taken from the local CPU wheel first
# Safe to rerun. Without root it installs nothing system-wide and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(dataset-fashion-mnist chromium chromium-driver iproute2)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node may come from elsewhere than Debian (nodesource bundles npm): ask for the commands.
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing Debian packages: ${missing[*]}" >&2
        echo "       install them with: sudo apt-get install ${missing[*]}" >&2
        echo "       (Fashion-MNIST can instead come from FASHION_MNIST_DIR or a download; see README)" >&2
    fi
fi

command -v python3 >/dev/null || { echo "setup: python3 not found: install Python 3.10+" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || { echo "setup: Python 3.10 or newer is needed, found $(python3 --version)" >&2; exit 1; }
python3 -c 'import venv, ensurepip' 2>/dev/null \
    || { echo "setup: python3 lacks venv/ensurepip: apt-get install python3-venv" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build from PyPI.
torch_pin=$(grep -E '^torch==' requirements-lock.txt)
.venv/bin/pip install -q "$torch_pin"
.venv/bin/pip install -q -r requirements-lock.txt
.venv/bin/python - <<'PY'
import torch
assert torch.version.cuda is None or torch.cuda.is_available(), "a CUDA torch was installed on a CPU machine"
print(f"setup: python packages ready (torch {torch.__version__})")
PY
touch .venv/.installed
