# The Airflow image for docker-compose.yaml: the official image plus loanlake's pinned requirements.
# Keep the tag in step with the apache-airflow pin in requirements.txt (tests/unit/test_docker_compose.py checks it).
FROM apache/airflow:3.3.2-python3.11

USER root
# mysqlclient builds from source when its pinned version differs from the image's; secrets/ is the mount point of
# the named volume that airflow-init fills (a new named volume takes this directory's owner).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential default-libmysqlclient-dev pkg-config \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o airflow -g 0 -m 770 /opt/airflow/secrets

USER airflow
COPY requirements.txt constraints.txt /tmp/loanlake/
RUN pip install --no-cache-dir -r /tmp/loanlake/requirements.txt -c /tmp/loanlake/constraints.txt
