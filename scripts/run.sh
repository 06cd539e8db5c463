#!/usr/bin/env bash
# Set up everything and run the server: `scripts/run.sh [--port 8080 ...]` (flags: --help).
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
setup_python
setup_web
cd "$ROOT"
exec "$PY" -m videosync "$@"
