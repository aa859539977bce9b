# shellcheck shell=bash
# Sourced by the scripts: how they run the bundle's Python packages (scripts/, glitchtip/).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

# A virtualenv in .venv with scripts/requirements.txt, first on PATH, for scripts/up and
# scripts/compose (and so for everything they run). Re-installed only when the file changes.
use_venv() {
  local venv="$root/.venv"
  local stamp="$venv/.requirements.sha256"
  local wanted
  wanted=$(sha256sum "$root/scripts/requirements.txt" | cut -d' ' -f1)
  if [[ ! -x "$venv/bin/python3" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    echo "==> preparing the scripts' Python environment in .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
      --requirement "$root/scripts/requirements.txt"
    echo "$wanted" > "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}

# python3 -m MODULE ARGS...; -P keeps the current directory off sys.path, so that a folder the
# operator happens to be in cannot shadow the bundle's own packages.
run_module() {
  exec python3 -P -m "$@"
}
