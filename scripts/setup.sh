#!/usr/bin/env bash
# Create .venv (if missing) and install PGF-Net into it. Called by dashboard.sh and
# test.sh, and safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"

if [ ! -x "$ROOT/.venv/bin/python" ]; then
    echo "setup: creating $ROOT/.venv"
    "$PYTHON" -m venv "$ROOT/.venv"
fi
PIP=("$ROOT/.venv/bin/python" -m pip --disable-pip-version-check -q)

# torch first, pinned: an unpinned torch requirement can pull a CUDA build of several GB.
# pip's "WARNING: Location ... is ignored" lines come from this machine's pip settings
# (local index folders that do not exist) and are harmless, so they are filtered out.
if ! "$ROOT/.venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "setup: installing torch 2.13.0 (CPU build)"
    "${PIP[@]}" install "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
fi

# Reinstall only when pyproject.toml or the requested extras changed since the last
# successful install, so later launches start in seconds.
STAMP="$ROOT/.venv/.pgfnet-install-stamp"
PROJECT_HASH="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
WANT="$PROJECT_HASH extras=${EXTRAS}"
if [ -f "$STAMP" ] && "$ROOT/.venv/bin/python" -c "import pgfnet" 2>/dev/null; then
    HAVE="$(cat "$STAMP")"
    # An install with the test extras also serves a plain request.
    if [ "$HAVE" = "$WANT" ] || { [ -z "$EXTRAS" ] && [ "${HAVE%% *}" = "$PROJECT_HASH" ]; }; then
        exit 0
    fi
fi
echo "setup: installing pgfnet${EXTRAS:+[$EXTRAS]} and its dependencies"
"${PIP[@]}" install -e "$ROOT${EXTRAS:+[$EXTRAS]}" 2>&1 | grep -v "^WARNING: Location" || true
"$ROOT/.venv/bin/python" -c "import pgfnet, torch, transformers, peft, streamlit, captum" \
    || { echo "setup: the installation failed; see the pip output above" >&2; exit 1; }
echo "$WANT" > "$STAMP"
