#!/usr/bin/env bash
# Install what gsmoothface needs: ffmpeg + espeak-ng (Debian packages) and a Python 3.11 venv in .venv
# with the CPU build of torch, the versions pinned in requirements.lock, and the package in editable
# mode (with the web page and the test tools).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)  # the SSH remote test runs a real sshd
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the page's test drives a headless browser
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch first and pinned: 2.13.0 is the CPU build on the project machines (no multi-GB CUDA download);
# then every package at the version requirements.lock pins (bash scripts/lock.sh updates it)
.venv/bin/pip install -q --disable-pip-version-check "torch==2.13.0"
.venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
.venv/bin/pip install -q --disable-pip-version-check --no-deps -e ".[dev,app]"
echo "installed: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)')"
