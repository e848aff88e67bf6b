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
echo "Airflow UI: http://127.0.0.1:$port (user admin; its password is written to"
echo "  $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated once Airflow has started)"
echo "The sandbox keeps running after Ctrl-C; stop it with: python -m sandbox down"
exec airflow standalone
