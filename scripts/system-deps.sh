#!/usr/bin/env bash
# Installs the Debian packages that building mysqlclient needs, when they are missing.
set -euo pipefail
if pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null; then
  exit 0
fi
packages=(default-libmysqlclient-dev pkg-config)
if [ "$(id -u)" -ne 0 ]; then
  echo "loanlake: mysqlclient needs ${packages[*]}; run as root: apt-get install -y ${packages[*]}" >&2
  exit 1
fi
echo "loanlake: installing ${packages[*]} (needed to build mysqlclient)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${packages[@]}" >/dev/null
