# Sourced by the bash scripts: a virtualenv in .venv with scripts/requirements.txt, first on PATH.
# Re-installs only when requirements.txt changes.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$root/scripts/requirements.txt" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python3" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  echo "==> preparing the scripts' Python environment in .venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --requirement "$root/scripts/requirements.txt"
  echo "$wanted" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
