"""Shared resources of the app: settings, input checks and the one cached backend.

The launcher passes its choices through the environment, so the app reads the same
values whether Streamlit or a test started it:

- ``PGFNET_CHECKPOINT``: checkpoint folder (default ``assets/checkpoint``).
- ``PGFNET_DATASET``: built dataset file (default ``<cache>/mosi.pgfdata``).
- ``PGFNET_MOSI_SOURCE``: raw MOSI folder used to build the dataset.
- ``PGFNET_CACHE``: cache root for records, tables and cut clips.
"""

from __future__ import annotations

import logging
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard.backend import DashboardBackend
from pgfnet.paths import (
    DEFAULT_CHECKPOINT,
    REPO_ROOT,
    cache_dir,
    default_checkpoint,
    default_dataset_path,
    default_source,
)

logger = logging.getLogger(__name__)

CHECKPOINT_FILES = ("config.json", "model.safetensors")


@dataclass(frozen=True)
class Settings:
    """Paths of the app's inputs."""

    checkpoint: Path
    dataset: Path
    source: Path | None


@dataclass(frozen=True)
class MissingInput:
    """One missing input: what is missing and the shell command that provides it."""

    what: str
    command: str


def settings() -> Settings:
    """Return the paths chosen by the launcher (or the defaults)."""
    dataset = os.environ.get("PGFNET_DATASET")
    return Settings(checkpoint=default_checkpoint(),
                    dataset=Path(dataset) if dataset else default_dataset_path(),
                    source=default_source())


def missing_inputs(config: Settings) -> list[MissingInput]:
    """Return what is missing to start the dashboard; empty when everything is there."""
    problems = []
    absent = [name for name in CHECKPOINT_FILES if not (config.checkpoint / name).is_file()]
    if absent:
        if config.checkpoint.resolve() == DEFAULT_CHECKPOINT.resolve():
            # The shipped checkpoint is tracked by git, so a checkout restores it.
            command = f"git -C {shlex.quote(str(REPO_ROOT))} checkout HEAD -- assets/checkpoint"
        else:
            train_config = shlex.quote(str(REPO_ROOT / "configs" / "default.json"))
            command = (f"pgfnet train --config {train_config} "
                       f"--out {shlex.quote(str(config.checkpoint))}")
        problems.append(MissingInput(
            what=f"checkpoint folder {config.checkpoint} lacks {', '.join(absent)}",
            command=command,
        ))
    if not config.dataset.is_file():
        if config.source is not None and config.source.is_dir():
            command = (f"pgfnet data build --source {shlex.quote(str(config.source))} "
                       f"--out {shlex.quote(str(config.dataset))}")
            what = f"dataset file {config.dataset} has not been built yet"
        else:
            command = "python run_dashboard.py --source /path/to/mosi"
            what = (f"dataset file {config.dataset} is missing and no MOSI source folder "
                    "was found (set PGFNET_MOSI_SOURCE or pass --source)")
        problems.append(MissingInput(what=what, command=command))
    return problems


def torch_threads() -> int:
    """Return the torch thread count set by the launcher (``PGFNET_TORCH_THREADS``, default 1)."""
    value = os.environ.get("PGFNET_TORCH_THREADS", "1")
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"invalid PGFNET_TORCH_THREADS {value!r}: use a whole number of 1 or more")
    return threads


def create_backend(checkpoint: Path, dataset: Path) -> DashboardBackend:
    """Load the dataset and the explanation cache; the model loads on first need."""
    from pgfnet.data.format import MosiData
    from pgfnet.explain.cache import ExplanationCache, checkpoint_id, default_cache_root

    data = MosiData.load(dataset)
    model_id = checkpoint_id(checkpoint)
    cache = ExplanationCache(default_cache_root(), model_id, data.sha256)

    def load_explainer():
        # Imported here: the engine pulls in transformers and Captum, which a launch
        # whose records and overview are all cached never needs.
        import torch

        from pgfnet.explain.engine import Explainer

        # Model calls run one at a time under the backend's lock, so extra intra-op
        # threads only compete with the server and other sessions for the cores.
        torch.set_num_threads(torch_threads())
        return Explainer.from_checkpoint(checkpoint, dataset_path=dataset)

    return DashboardBackend(data, checkpoint, load_explainer, cache,
                            table_dir=cache_dir() / "dashboard", model_id=model_id)


@st.cache_resource(show_spinner="Loading the dataset and the explanation cache...")
def get_backend(checkpoint: str, dataset: str) -> DashboardBackend:
    """Return the one backend for these paths, shared by every session."""
    logger.info("opening the dashboard backend: checkpoint %s, dataset %s", checkpoint, dataset)
    return create_backend(Path(checkpoint), Path(dataset))


def backend() -> DashboardBackend:
    """Return the shared backend for the current settings."""
    config = settings()
    return get_backend(str(config.checkpoint), str(config.dataset))
