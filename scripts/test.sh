#!/usr/bin/env bash
# Set up everything the tests need (Python and npm packages, redis-server, ffmpeg, Chromium, nginx)
# and run every suite: lint, the JS unit tests, then pytest. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
apt_install redis-server:redis-server ffmpeg:ffmpeg ffprobe:ffmpeg chromium:chromium node:nodejs /usr/sbin/nginx:nginx
setup_python test
setup_web
cd "$ROOT"

log "lint (ruff) and types (mypy)"
"$VENV/bin/ruff" check videosync tests scripts
"$VENV/bin/mypy"

if compgen -G "web/test/*.test.mjs" >/dev/null; then
  log "JS unit tests (node --test)"
  (cd web && node --test test/)
fi

log "pytest"
exec "$PY" -m pytest "$@"
