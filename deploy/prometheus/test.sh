#!/usr/bin/env bash
# Checks and unit-tests the shipped alerting rules with promtool (Debian package `prometheus`,
# installed when missing).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool missing: installing Debian's prometheus package" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool check rules valwatch-alerts.yml
promtool test rules valwatch-alerts.test.yml
