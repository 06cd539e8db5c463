# Shared set-up for scripts/run.sh and scripts/test.sh (sourced, not run): a virtualenv in .venv
# with the project installed, and the web app's npm packages. Idempotent and quick when done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VIDEOSYNC_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

log() { printf '\033[1m[videosync]\033[0m %s\n' "$*" >&2; }

apt_install() {
  # Installs Debian packages that are missing, when we are root with apt; otherwise says what to do.
  local missing=()
  for spec in "$@"; do
    local cmd="${spec%%:*}" pkg="${spec##*:}"
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "missing system packages: ${missing[*]} (install them with your package manager)"
    return 1
  fi
}

setup_python() {
  local extras="${1:-}" spec="$ROOT"
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  if [ ! -x "$PY" ]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-${extras:-base}"
  if [ ! -f "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] \
     || [ "$ROOT/setup.py" -nt "$stamp" ]; then
    log "installing Python packages ${extras:+($extras)}"
    "$PY" -m pip install -q --disable-pip-version-check -e "$spec"
    touch "$stamp"
  fi
}

setup_web() {
  if [ ! -f "$ROOT/web/package-lock.json" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    apt_install npm:npm || { log "npm missing: the player falls back to progressive MP4"; return 0; }
  fi
  local stamp="$ROOT/web/node_modules/.installed"
  if [ ! -f "$stamp" ] || [ "$ROOT/web/package-lock.json" -nt "$stamp" ]; then
    log "installing web packages (npm ci)"
    (cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}
