#!/usr/bin/env bash
# Install Debian packages the book needs outside Python (chromium for the browser tests),
# as root or through sudo.
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
$SUDO apt-get install -y -qq "$@" >/dev/null \
  || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "$@" >/dev/null; }
