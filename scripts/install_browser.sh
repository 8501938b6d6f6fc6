#!/usr/bin/env bash
# Debian's Chromium, used only by the test that opens the static report page in a real headless
# browser (tests/report/test_report_browser.py). About 50 s of apt on the dev machine; the test
# skips, saying why, where /usr/bin/chromium is absent.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/chromium ]; then
  echo "install_browser: installing chromium with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
/usr/bin/chromium --version
