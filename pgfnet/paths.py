"""Default locations and the validation of user-supplied ids and paths.

Every default can be overridden by a command-line flag or an environment variable:

- ``PGFNET_MOSI_SOURCE``: the raw MOSI folder (default ``../shared/data/mosi`` relative
  to the current directory or to the repository root, whichever exists).
- ``PGFNET_CACHE``: where built datasets, precomputed explanations and cut clips live
  (default ``$XDG_CACHE_HOME/pgfnet``, that is ``~/.cache/pgfnet``).
- ``PGFNET_CHECKPOINT``: the checkpoint the dashboard loads (default ``assets/checkpoint``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"
DEFAULT_CHECKPOINT = ASSETS_DIR / "checkpoint"

# Utterance ids are "<video_id>_<segment_no>"; YouTube ids use letters, digits, "-" and "_".
_UTTERANCE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def default_source() -> Path | None:
    """Return the raw MOSI folder to read, or None when no default exists."""
    env = os.environ.get("PGFNET_MOSI_SOURCE")
    if env:
        return Path(env)
    for candidate in (Path.cwd() / ".." / "shared" / "data" / "mosi",
                      REPO_ROOT / ".." / "shared" / "data" / "mosi"):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def cache_dir() -> Path:
    """Return (and create) the cache folder for derived files."""
    env = os.environ.get("PGFNET_CACHE")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "pgfnet"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_dataset_path() -> Path:
    """Return the path of the built MOSI dataset file in the cache."""
    return cache_dir() / "mosi.pgfdata"


def default_checkpoint() -> Path:
    """Return the checkpoint folder the dashboard and the CLI use by default."""
    env = os.environ.get("PGFNET_CHECKPOINT")
    return Path(env) if env else DEFAULT_CHECKPOINT


def validate_utterance_id(value: str) -> str:
    """Return ``value`` if it is a well-formed utterance id, else raise ValueError.

    Rejects path separators, ``..``, NUL bytes and anything outside
    ``[A-Za-z0-9_-]``, so that an id can name a cache file safely.
    """
    if not isinstance(value, str) or not _UTTERANCE_ID.fullmatch(value):
        raise ValueError(
            f"invalid utterance id {value!r}: ids look like '03bSnISJMiM_1' "
            "(letters, digits, '-' and '_' only, at most 64 characters)"
        )
    return value


def safe_child(root: Path, name: str) -> Path:
    """Return ``root / name`` after checking that it stays inside ``root``.

    Raises ValueError for absolute paths, ``..`` components and NUL bytes.
    """
    if "\x00" in name:
        raise ValueError(f"invalid path {name!r}: it contains a NUL byte")
    candidate = Path(name)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise ValueError(
            f"invalid path {name!r}: give a relative name without '..' inside {root}"
        )
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ValueError(f"invalid path {name!r}: it resolves outside {root}")
    return resolved
