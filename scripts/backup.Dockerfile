# The backup service (compose.yml, profile "backup"): PostgreSQL's own image, so that pg_dump and
# pg_restore are the server's version, plus Python for scripts/backup_schedule.py.
ARG POSTGRES_IMAGE=postgres:17.6
FROM ${POSTGRES_IMAGE}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# The scripts' lock (scripts/lock-requirements): every package pinned and checked against its hash.
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps --requirement /tmp/requirements.txt
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/bundle \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Only the scripts package: the backup needs no env files (compose passes the settings).
COPY . /bundle/scripts/
WORKDIR /bundle
# Not the server's entrypoint: this container runs no database.
ENTRYPOINT []
CMD ["python", "-m", "scripts.backup_schedule"]
