#!/usr/bin/env bash
# Set up (first run only) and launch the dashboard on http://127.0.0.1:8501.
# Extra arguments go to run_dashboard.py (see `python run_dashboard.py --help`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/run_dashboard.py" "$@"
