#!/usr/bin/env bash
# Debian's chromium and its chromedriver, for the dashboard's browser test
# (tests/e2e/test_dashboard_browser.py drives them with Selenium). Run by `make` before
# `pip install`. Installed with apt-get when run as root (as on CI); otherwise it says what to
# install and goes on: the browser test then skips, except on CI (CI=true), where it fails.
set -uo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the browser test's dependencies: ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        exit 0
    fi
fi
echo "note: ${missing[*]} missing: the dashboard's browser test will not run;" \
     "install them (apt-get install -y chromium chromium-driver) and run make again"
exit 0
