#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, browser tests included.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not browser"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" test

# The browser tests drive Debian's Chromium through its ChromeDriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test: installing Debian's chromium and chromium-driver"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "test: chromium and chromedriver are missing; install Debian's 'chromium' and 'chromium-driver' (as root) to run the browser tests" >&2
        exit 1
    fi
fi

cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
