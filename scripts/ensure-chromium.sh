#!/usr/bin/env bash
# Headless Chromium for the report's browser test (Debian's package; a test
# tool's own browser download cannot work offline). Installs only if missing.
set -eu
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "chromium is missing and apt-get is not available; browser tests will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
echo "installing Debian's chromium for the browser tests…" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
