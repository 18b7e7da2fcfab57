#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine, then runs it:
# the real servers the integration tests start (apt), the project (npm ci), then `npm test`.
# Run it as root or with sudo available; packages already installed are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
APT_PACKAGES=(unzip openssl redis-server etcd-server etcd-client nginx libnginx-mod-nchan libnginx-mod-http-echo ffmpeg aria2 transmission-cli chromium wrk rclone)
SUDO=()
if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The registry sometimes drops a connection mid-download (EIDLETIMEOUT): retry the install, not the tests.
for attempt in 1 2 3; do
  if npm ci --no-audit --no-fund --fetch-retries=5 --fetch-timeout=120000; then break; fi
  if [ "$attempt" = 3 ]; then echo "npm ci failed 3 times" >&2; exit 1; fi
  echo "npm ci failed (attempt $attempt); retrying in 10 s" >&2
  sleep 10
done
npm test
