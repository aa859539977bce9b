#!/usr/bin/env bash
# Creates the app's and GlitchTip's databases, each owned by its own login role.
# The official postgres image runs this once, on the first start of an empty data volume
# (/docker-entrypoint-initdb.d), as the superuser over the local socket.
set -o errexit -o pipefail -o nounset

# Each password may instead be in the file named by NAME_FILE (Docker secrets: scripts/swarm-deploy),
# as the image reads POSTGRES_PASSWORD_FILE; both set is refused, as the image refuses it.
from_file() {
  local name=$1 file_var="${1}_FILE"
  [[ -z "${!file_var:-}" ]] && return
  if [[ -n "${!name:-}" ]]; then
    echo "both ${name} and ${file_var} are set (but are exclusive)" >&2
    exit 1
  fi
  printf -v "${name}" '%s' "$(< "${!file_var}")"
}
from_file APP_DB_PASSWORD
from_file GLITCHTIP_DB_PASSWORD

: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is empty: generate the secrets file (scripts/secrets ENV)}"
: "${GLITCHTIP_DB_PASSWORD:?GLITCHTIP_DB_PASSWORD is empty: generate the secrets file (scripts/secrets ENV)}"

create() {
  local database=$1 role=$2 password=$3
  echo "creating database ${database} owned by role ${role}"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB:-postgres}" \
    --set db="${database}" --set role="${role}" --set password="${password}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
-- Nobody but the owner may connect: the app cannot read GlitchTip's data and vice versa.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create "${APP_DB_NAME:-app}" "${APP_DB_USER:-app}" "${APP_DB_PASSWORD}"
create "${GLITCHTIP_DB_NAME:-glitchtip}" "${GLITCHTIP_DB_USER:-glitchtip}" "${GLITCHTIP_DB_PASSWORD}"
