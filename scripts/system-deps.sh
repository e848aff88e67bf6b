#!/usr/bin/env bash
# Installs the Debian packages the project needs, when they are missing: what building mysqlclient needs, and
# Chromium with its driver for the real-browser check of the Airflow UI (tests/e2e/).
set -euo pipefail
packages=()
if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null; then
  packages+=(default-libmysqlclient-dev pkg-config)
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  packages+=(chromium chromium-driver)
fi
if [ "${#packages[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "loanlake: mysqlclient's build and the browser test need ${packages[*]};" \
    "run as root: apt-get install -y ${packages[*]}" >&2
  exit 1
fi
echo "loanlake: installing ${packages[*]} (mysqlclient's build; Chromium for the UI test)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${packages[@]}" >/dev/null
