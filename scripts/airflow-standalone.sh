#!/usr/bin/env bash
# `make airflow`: airflow standalone with this repo's DAGs, pointed at the sandbox (started if down).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${AIRFLOW_PORT:-8080}"
python -m sandbox up
# shellcheck disable=SC1091
source .sandbox/env
export AIRFLOW_HOME="$PWD/.airflow/standalone"
export AIRFLOW__CORE__DAGS_FOLDER="$PWD/dags" AIRFLOW__CORE__PLUGINS_FOLDER="$PWD/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__API__PORT="$port" AIRFLOW__API__BASE_URL="http://127.0.0.1:$port"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export PYTHONPATH="$PWD/plugins:$PWD"
passwords="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
airflow standalone &
airflow_pid=$!
trap 'kill "$airflow_pid" 2>/dev/null; wait "$airflow_pid"' INT TERM
for _ in $(seq 180); do  # Airflow writes the admin's password when its API server starts
    [ -s "$passwords" ] && break
    kill -0 "$airflow_pid" 2>/dev/null || break
    sleep 1
done
if [ -s "$passwords" ]; then
    password="$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin"])' "$passwords")"
    echo "Airflow UI: http://127.0.0.1:$port  user admin, password $password (also in $passwords)"
else
    echo "Airflow did not write $passwords: see its output above" >&2
fi
echo "Ctrl-C stops Airflow; the sandbox keeps running: stop it with python -m sandbox down"
wait "$airflow_pid"
