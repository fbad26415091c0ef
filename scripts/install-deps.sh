#!/usr/bin/env bash
# Installs herd's build and test dependencies from Debian (Debian 12 / Ubuntu 22.04+).
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config ccache \
  libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libopenblas-dev \
  libcpp-httplib-dev >/dev/null
echo "herd dependencies installed"
