#!/usr/bin/env bash
# Install Debian's headless-capable Chromium and its matching WebDriver for the galaxy explorer's browser test
# (tests/explorer_browser.py): packages chromium, chromium-driver and a font. Debian 12, run as root.
# Idempotent: does nothing when /usr/bin/chromium and /usr/bin/chromedriver are already there. Nothing but Debian's
# own packages is installed; no browser build is ever downloaded.
set -euo pipefail

say() { echo "chromium-install: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi
[[ $(id -u) == 0 ]] || die "must run as root to apt-get install chromium chromium-driver (or install them yourself)"
say "installing chromium, chromium-driver and fonts-dejavu-core (about 30 s)"
export DEBIAN_FRONTEND=noninteractive
LOG="${TMPDIR:-/tmp}/galssl-chromium-apt.log"
apt-get update -qq >"$LOG" 2>&1 || die "apt-get update failed (see $LOG)"
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >>"$LOG" 2>&1 \
    || die "apt-get install failed (see $LOG)"
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || die "chromium or chromedriver missing after the install"
