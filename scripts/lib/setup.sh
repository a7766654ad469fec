# Shared set-up for the scripts: a virtual environment with the project installed.
# Source it, then call ensure_venv; $VENV names the environment.

VENV="${YC_VENV:-$PWD/.venv}"

ensure_venv() {
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "Creating the virtual environment in $VENV ..."
    python3 -m venv "$VENV"
  fi
  if [[ ! -f "$stamp" ]]; then
    echo "Installing the project and its pinned dependencies into $VENV ..."
    local log="$VENV/install.log"
    if ! { "$VENV/bin/python" -m pip install --upgrade pip \
           && "$VENV/bin/python" -m pip install -e ".[dev]"; } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "Installing the dependencies failed; the whole log is in $log" >&2
      return 1
    fi
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}
