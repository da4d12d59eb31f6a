#!/usr/bin/env bash
# System packages the test suite needs, installed from Debian's repositories when missing:
# Chromium (browser tests, driven by playwright-core) and coturn (TURN tests: turnserver,
# turnutils_uclient). Runs before `npm test`; a no-op when both are present.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v turnserver >/dev/null 2>&1 && command -v turnutils_uclient >/dev/null 2>&1 || need+=(coturn)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-test-deps: missing ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "setup-test-deps: installing ${need[*]} from Debian"
if ! apt-get install -y --no-install-recommends "${need[@]}" >/tmp/setup-test-deps.log 2>&1; then
  apt-get update >>/tmp/setup-test-deps.log 2>&1 || true
  apt-get install -y --no-install-recommends "${need[@]}" >>/tmp/setup-test-deps.log 2>&1 || {
    echo "setup-test-deps: could not install ${need[*]} (see /tmp/setup-test-deps.log); the tests that need them will say so" >&2
    exit 0
  }
fi
# Debian's coturn does not start a system turnserver unless /etc/default/coturn enables it;
# tests start their own on free ports.
