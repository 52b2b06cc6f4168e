"""A folder of precomputed explanations that the dashboard reads.

Layout under ``root``::

    <model_id[:16]>-<dataset_sha256[:16]>/
        manifest.json            full model id and dataset sha256 of this folder
        <utterance id>.json      the record's JSON half
        <utterance id>.npz       the record's arrays (loaded with allow_pickle=False)
        <utterance id>.sha256    {"json": sha256, "npz": sha256}, written last
        overview-<split>.json    an OverviewTable with its own checksum

The folder is named after the checkpoint and the dataset, so a new checkpoint or a
rebuilt dataset never reads the entries of an old one. Every file is written atomically
and the checksum file comes last, so an entry interrupted by a crash or a kill has no
valid checksum and counts as missing: ``precompute`` computes it again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pgfnet.explain.overview import OverviewTable
from pgfnet.explain.record import ARRAY_FIELDS, Explanation
from pgfnet.io import atomic_write_bytes, atomic_write_text
from pgfnet.paths import cache_dir, validate_utterance_id

logger = logging.getLogger(__name__)

# Temporary files older than this are left over from a killed writer.
STALE_TEMPORARY_SECONDS = 600


def default_cache_root() -> Path:
    """Return the default root of explanation caches: ``<pgfnet cache>/explanations``."""
    return cache_dir() / "explanations"


def checkpoint_id(checkpoint_dir: str | Path) -> str:
    """Return the sha256 of a checkpoint's ``model.safetensors`` bytes followed by ``config.json``.

    Raises FileNotFoundError naming the missing file.
    """
    directory = Path(checkpoint_dir)
    digest = hashlib.sha256()
    for name in ("model.safetensors", "config.json"):
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(
                f"checkpoint file {path} not found: give a folder written by "
                "PGFNet.save_pretrained (config.json and model.safetensors)"
            )
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class PrecomputeSummary:
    """The outcome of one :meth:`ExplanationCache.precompute` call.

    Attributes:
        computed: ids explained and written by this call.
        skipped: ids that already had a valid entry.
        failed: id -> error message for ids that could not be explained.
        seconds: wall-clock duration of the call.
    """

    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class ExplanationCache:
    """Precomputed explanations of one checkpoint on one dataset file.

    Args:
        root: the folder that contains the caches of every checkpoint and dataset.
        model_id: :func:`checkpoint_id` of the checkpoint (or ``Explainer.model_id``).
        dataset_sha: sha256 of the dataset file.

    Raises ValueError when the ids are empty or when the folder's manifest names a
    different model or dataset (a 16-character prefix collision).
    """

    def __init__(self, root: str | Path, model_id: str, dataset_sha: str) -> None:
        if not model_id or not dataset_sha:
            raise ValueError(
                f"invalid cache identity (model_id={model_id!r}, dataset_sha={dataset_sha!r}): "
                "give the checkpoint id and the dataset sha256"
            )
        self.root = Path(root)
        self.model_id = model_id
        self.dataset_sha = dataset_sha
        self.directory = self.root / f"{model_id[:16]}-{dataset_sha[:16]}"
        self._check_manifest()

    def _check_manifest(self) -> None:
        path = self.directory / "manifest.json"
        expected = {"model_id": self.model_id, "dataset_sha256": self.dataset_sha}
        if path.is_file():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                stored = None
            if isinstance(stored, dict) and stored == expected:
                return
            if isinstance(stored, dict) and set(stored) == set(expected):
                raise ValueError(
                    f"cache folder {self.directory} belongs to model {stored['model_id']} "
                    f"and dataset {stored['dataset_sha256']}, not to model {self.model_id} "
                    f"and dataset {self.dataset_sha}: use another cache root"
                )
            logger.warning("cache manifest %s is unreadable; rewriting it", path)
        atomic_write_text(path, json.dumps(expected, indent=1))

    # -- entries ----------------------------------------------------------------------

    def _paths(self, utterance_id: str) -> tuple[Path, Path, Path]:
        validate_utterance_id(utterance_id)
        stem = self.directory / utterance_id
        return stem.with_suffix(".json"), stem.with_suffix(".npz"), stem.with_suffix(".sha256")

    def get(self, utterance_id: str) -> Explanation | None:
        """Return the cached explanation of ``utterance_id``, or None when there is none.

        An entry whose files fail their sha256 check, cannot be parsed or belong to
        another model is logged and treated as missing, so ``precompute`` writes it
        again. Raises ValueError for a malformed id.
        """
        json_path, npz_path, sum_path = self._paths(utterance_id)
        if not sum_path.is_file():
            return None
        try:
            sums = json.loads(sum_path.read_text(encoding="utf-8"))
            json_bytes = json_path.read_bytes()
            npz_bytes = npz_path.read_bytes()
        except (OSError, json.JSONDecodeError) as error:
            logger.warning("cache entry %s is incomplete (%s); it will be recomputed", utterance_id, error)
            return None
        if not isinstance(sums, dict) or sums.get("json") != _sha256(json_bytes) or sums.get("npz") != _sha256(npz_bytes):
            logger.warning("cache entry %s failed its sha256 check in %s; it will be recomputed",
                           utterance_id, self.directory)
            return None
        try:
            metadata = json.loads(json_bytes)
            with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as arrays:
                record = Explanation.from_parts(metadata, {name: arrays[name] for name in ARRAY_FIELDS})
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("cache entry %s cannot be read (%s); it will be recomputed", utterance_id, error)
            return None
        if record.id != utterance_id or record.model_id != self.model_id:
            logger.warning("cache entry %s contains utterance %s of model %s; it will be recomputed",
                           utterance_id, record.id, record.model_id)
            return None
        return record

    def __contains__(self, utterance_id: str) -> bool:
        return self.get(utterance_id) is not None

    def put(self, record: Explanation) -> None:
        """Write ``record`` as an entry keyed by its id, atomically, checksum last.

        Raises ValueError for a malformed id or a record of another model.
        """
        if record.model_id != self.model_id:
            raise ValueError(
                f"record {record.id!r} was computed by model {record.model_id!r}, but this "
                f"cache holds model {self.model_id!r}: use the matching ExplanationCache"
            )
        json_path, npz_path, sum_path = self._paths(record.id)
        npz_bytes = record.arrays_bytes()
        json_bytes = json.dumps(record.metadata_dict(), indent=1).encode("utf-8")
        atomic_write_bytes(npz_path, npz_bytes)
        atomic_write_bytes(json_path, json_bytes)
        atomic_write_text(sum_path, json.dumps({"json": _sha256(json_bytes), "npz": _sha256(npz_bytes)}))

    def ids(self) -> list[str]:
        """Return the ids that have a checksum file, sorted (entries are not verified)."""
        return sorted(path.stem for path in self.directory.glob("*.sha256"))

    # -- overview tables --------------------------------------------------------------

    def overview_path(self, split: str) -> Path:
        """Return the path of the split's overview table in this cache."""
        if split not in ("train", "valid", "test"):
            raise ValueError(f"unknown split {split!r}: use one of train, valid, test")
        return self.directory / f"overview-{split}.json"

    def load_overview(self, split: str) -> OverviewTable | None:
        """Return the cached overview table of ``split``, or None when missing or invalid."""
        path = self.overview_path(split)
        if not path.is_file():
            return None
        try:
            table = OverviewTable.load(path)
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("overview %s cannot be used (%s); it will be recomputed", path, error)
            return None
        if table.model_id != self.model_id or table.dataset_sha256 != self.dataset_sha:
            logger.warning("overview %s belongs to another model or dataset; it will be recomputed", path)
            return None
        return table

    def save_overview(self, table: OverviewTable) -> Path:
        """Write an overview table of this cache's model and dataset; return its path."""
        if table.model_id != self.model_id or table.dataset_sha256 != self.dataset_sha:
            raise ValueError(
                f"overview of model {table.model_id!r} on dataset {table.dataset_sha256!r} "
                "does not belong in this cache: use the matching ExplanationCache"
            )
        return table.save(self.overview_path(table.split))

    # -- precompute -------------------------------------------------------------------

    def _remove_stale_temporaries(self) -> None:
        now = time.time()
        for path in self.directory.glob(".*.tmp"):
            try:
                if now - path.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                    path.unlink()
            except FileNotFoundError:
                pass

    def precompute(
        self,
        explainer,
        ids: Iterable[str],
        progress: Callable[[int, int], None] | None = None,
    ) -> PrecomputeSummary:
        """Explain every id that has no valid entry yet and store it.

        Resumable: entries that pass their checksum and were computed with the
        explainer's ``n_steps`` are skipped, so a run that was killed continues where it
        stopped. An id that cannot be explained (ValueError, KeyError, RuntimeError) is
        logged, listed in the summary and skipped.

        Args:
            explainer: an :class:`~pgfnet.explain.engine.Explainer` of this cache's
                model and dataset.
            ids: utterance ids to explain.
            progress: called as ``progress(done, total)`` after each id.

        Raises ValueError when the explainer's model or dataset differs from the cache's.
        """
        if explainer.model_id != self.model_id or explainer.dataset_sha256 != self.dataset_sha:
            raise ValueError(
                f"explainer of model {explainer.model_id!r} on dataset "
                f"{explainer.dataset_sha256!r} does not match this cache (model "
                f"{self.model_id!r}, dataset {self.dataset_sha!r}): open the cache with "
                "the explainer's model_id and dataset_sha256"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()

        ids = [validate_utterance_id(i) for i in ids]
        summary = PrecomputeSummary()
        started = time.perf_counter()
        for done, utterance_id in enumerate(ids, start=1):
            existing = self.get(utterance_id)
            if existing is not None and existing.n_steps == explainer.n_steps:
                summary.skipped.append(utterance_id)
            else:
                try:
                    self.put(explainer.explain(utterance_id))
                    summary.computed.append(utterance_id)
                except (ValueError, KeyError, RuntimeError) as error:
                    logger.error("explaining %s failed: %s", utterance_id, error)
                    summary.failed[utterance_id] = str(error)
            if progress is not None:
                progress(done, len(ids))
        summary.seconds = time.perf_counter() - started
        return summary
