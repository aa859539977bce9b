# shellcheck shell=bash
# Sourced by the scripts: how they run the bundle's Python packages (scripts/, glitchtip/).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

# A virtualenv in .venv with scripts/requirements.txt, first on PATH, for every script (and so for
# everything they run). Re-installed only when the file changes. SCRIPTS_USE_SYSTEM_PYTHON=1 uses
# the python3 on PATH instead: the test suite's, which has every package of the lock.
use_venv() {
  [[ "${SCRIPTS_USE_SYSTEM_PYTHON:-}" == 1 ]] && return 0
  local venv="$root/.venv"
  local stamp="$venv/.requirements.sha256"
  local wanted
  wanted=$(sha256sum "$root/scripts/requirements.txt" | cut -d' ' -f1)
  if [[ ! -x "$venv/bin/python3" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    require_venv_module
    echo "==> preparing the scripts' Python environment in .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
      --requirement "$root/scripts/requirements.txt"
    echo "$wanted" > "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}

# Debian and Ubuntu ship Python's venv without ensurepip (package python3-venv), so `python3 -m venv`
# fails half-way: say what to install instead.
require_venv_module() {
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    local version
    version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)
    echo "$(basename "$0"): python3 cannot create a virtual environment: its venv/ensurepip module is missing." >&2
    echo "  Fix (Debian, Ubuntu): sudo apt-get install python${version}-venv" >&2
    echo "  (python3-venv installs the same for the distribution's default python3), then run this again." >&2
    exit 1
  fi
}

# python3 -m MODULE ARGS...; -P keeps the current directory off sys.path, so that a folder the
# operator happens to be in cannot shadow the bundle's own packages.
run_module() {
  exec python3 -P -m "$@"
}
