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

# ensure_debian_packages pkg...: installs the Debian packages that are missing
# (apt-get, once per run) when running as root; otherwise names them and says
# that the tests needing them will skip. Quiet when every package is present.
_apt_updated=""
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  done
  if (( ${#missing[@]} == 0 )); then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1 || [[ "$(id -u)" != 0 ]]; then
    echo "Missing Debian packages: ${missing[*]}; the tests that need them will skip" \
         "(install them as root: apt-get install ${missing[*]})." >&2
    return 0
  fi
  echo "Installing Debian packages: ${missing[*]} ..."
  local log="${TMPDIR:-/tmp}/yarracloud-apt.log"
  if [[ -z "$_apt_updated" ]]; then
    if ! apt-get update >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      echo "apt-get update failed; the tests that need ${missing[*]} will skip." >&2
      _fatal_in_ci
      return
    fi
    _apt_updated=1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       "${missing[@]}" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "Installing ${missing[*]} failed; the tests that need them will skip." >&2
    _fatal_in_ci
  fi
}

# In CI a failed install must fail the run: a skipped interop test there proves nothing.
_fatal_in_ci() {
  if [[ -n "${CI:-}" ]]; then
    echo "CI is set: stopping, since the tests must not skip there." >&2
    return 1
  fi
  return 0
}

# ensure_tool_venv NAME: a virtual environment of its own under .venv-tools/NAME
# holding the `checks` extra's pinned NAME (from pyproject.toml), for tools whose
# dependencies conflict with the project's. Prints nothing when it is ready.
ensure_tool_venv() {
  local name="$1" root="${YC_TOOLS:-$PWD/.venv-tools}" spec
  spec="$(python3 -c 'import sys, tomllib
extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checks"]
print(next((s for s in extra if s.split("==")[0] == sys.argv[1]), ""))' "$name")" || return 1
  if [[ -z "$spec" ]]; then
    echo "pyproject.toml's checks extra pins no $name" >&2
    return 1
  fi
  local venv="$root/$name" stamp
  stamp="$venv/.installed-$(echo "$spec" | sha256sum | cut -c1-16)"
  [[ -f "$stamp" ]] && return 0
  mkdir -p "$root"
  [[ -f "$root/.gitignore" ]] || echo '*' >"$root/.gitignore"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" || return 1
  local log="$venv/install.log"
  if ! "$venv/bin/python" -m pip install "$spec" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "Installing $spec failed; the whole log is in $log" >&2
    return 1
  fi
  rm -f "$venv"/.installed-*
  touch "$stamp"
}
