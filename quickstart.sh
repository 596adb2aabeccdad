#!/usr/bin/env bash
# snake-pipe quick start. Needs only Python 3.11+.
#   ./quickstart.sh          set up .venv, run the main job (incremental_ast_job, in process, on
#                            a local Dagster instance) over the bundled demo repositories, and
#                            print a summary
#   ./quickstart.sh test     set up .venv (with test tools) and run the tests
# Extra arguments after `test` go to pytest (e.g. ./quickstart.sh test -m "not e2e").
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "snake-pipe needs Python 3.11+")'

setup() {
  local extras=$1
  if [ ! -x .venv/bin/python ]; then
    echo "» creating .venv" >&2
    "$PY" -m venv .venv
  fi
  local stamp=".venv/.snake-pipe-$extras-$(cat pyproject.toml | "$PY" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])')"
  if [ ! -f "$stamp" ]; then
    echo "» installing snake-pipe and its dependencies into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$extras]"
    touch "$stamp"
  fi
  # The duckdb-cli wheel installs DuckDB's CLI without the executable bit.
  [ ! -f .venv/bin/duckdb ] || [ -x .venv/bin/duckdb ] || chmod +x .venv/bin/duckdb
}

case "${1:-run}" in
  run)
    setup test
    shift || true
    exec .venv/bin/python -m snake_pipe_dagster.demo "$@"
    ;;
  test)
    setup test,lint
    shift
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: $0 [run|test [pytest args...]]" >&2
    exit 2
    ;;
esac
