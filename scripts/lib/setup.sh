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
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}
