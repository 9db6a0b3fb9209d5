#!/usr/bin/env bash
# Chromium for the browser tests (tests/test_review_web.py drives it headless with Playwright), from
# Debian's package, installed if missing: Playwright's own browser download is never used.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
# fonts: without them the page (a terminal drawn on a canvas) screenshots as empty boxes
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation
