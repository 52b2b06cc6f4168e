"""Run a sweep plan (configs x seeds) and record each finished run in a JSONL file.

A plan is JSON:

    {
      "base_config": "configs/default.json",
      "results": "configs/sweep/results.jsonl",
      "runs_dir": "runs/sweep",
      "entries": [
        {"name": "pgfnet", "label": "PGF-Net (default)", "overrides": {},
         "seeds": [0, 1, 2, 3, 4], "priority": 0},
        {"name": "no_gate", "label": "no gate (plain sum)", "overrides": {"use_gate": false},
         "seeds": [0, 1, 2], "priority": 1}
      ]
    }

Paths are relative to the repository root. Runs go in order of (priority, seed
position, entry position), so the main comparison fills up first. A run already in
the results file is skipped; an unfinished run folder is resumed. Each run holds an
exclusive lock file while it trains, so several ``pgfnet sweep`` processes can share one
plan and one results file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from pgfnet.model.config import PGFNetConfig
from pgfnet.paths import REPO_ROOT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedRun:
    """One (entry, seed) of a plan with its full config."""

    name: str
    label: str
    seed: int
    priority: int
    config: PGFNetConfig

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.seed)


@dataclass
class Plan:
    """A loaded sweep plan."""

    path: Path
    results: Path
    runs_dir: Path
    entries: list[dict]
    runs: list[PlannedRun]


def resolve_path(path: str | Path) -> Path:
    """Return ``path``, taking a relative path from the repository root."""
    path = Path(path)
    return path if path.is_absolute() else REPO_ROOT / path


def load_plan(path: str | Path) -> Plan:
    """Read a plan file and expand it into ordered :class:`PlannedRun` objects.

    Raises ValueError naming the entry for a missing name or seeds, a duplicate name or
    an unknown config key.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep plan {path} not found")
    plan = json.loads(path.read_text(encoding="utf-8"))
    base = PGFNetConfig.load(resolve_path(plan["base_config"])).to_dict()

    runs, names = [], set()
    for position, entry in enumerate(plan["entries"]):
        name = entry.get("name")
        if not name or not entry.get("seeds"):
            raise ValueError(f"sweep plan {path}: entry {position} needs a 'name' and 'seeds'")
        if name in names:
            raise ValueError(f"sweep plan {path}: entry name {name!r} is used twice")
        names.add(name)
        for seed_position, seed in enumerate(entry["seeds"]):
            values = dict(base)
            values.update(entry.get("overrides", {}))
            values["seed"] = int(seed)
            try:
                config = PGFNetConfig.from_dict(values)
            except ValueError as error:
                raise ValueError(f"sweep plan {path}, entry {name!r}: {error}") from error
            runs.append((
                (entry.get("priority", 0), seed_position, position),
                PlannedRun(name, entry.get("label", name), int(seed), entry.get("priority", 0), config),
            ))
    runs.sort(key=lambda item: item[0])
    return Plan(path, resolve_path(plan["results"]), resolve_path(plan["runs_dir"]),
                plan["entries"], [run for _, run in runs])


def read_results(path: Path) -> list[dict]:
    """Return the recorded runs of a results file (empty when it does not exist)."""
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            # A line cut short by a crash is ignored; its run is simply redone.
            logger.warning("skipping unreadable line %d of %s", number, path)
    return records


def append_result(path: Path, record: dict) -> None:
    """Append one record as a JSON line with a single ``write`` on an O_APPEND file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_record(run: PlannedRun, run_dir: Path) -> dict:
    """Build the results record of a finished run folder."""
    info = json.loads((run_dir / "info.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    stored = PGFNetConfig.load(run_dir / "config.json")
    if stored != run.config:
        raise ValueError(
            f"run folder {run_dir} was trained with another config than plan entry "
            f"{run.name!r} seed {run.seed}: move the folder away and rerun the sweep"
        )
    try:
        relative_dir = str(run_dir.relative_to(REPO_ROOT))
    except ValueError:
        relative_dir = str(run_dir)
    return {
        "name": run.name,
        "seed": run.seed,
        "config": run.config.to_dict(),
        "metrics": metrics,
        "valid_metrics": info.get("valid_metrics"),
        "best_epoch": info.get("best_epoch"),
        "epochs_run": info.get("epochs_run"),
        "train_seconds": info.get("train_seconds"),
        "trainable_parameters": info["parameters"]["total_trainable"],
        "torch_threads": info.get("torch_threads"),
        "run_dir": relative_dir,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run_plan(plan_path: str | Path, results_path: str | Path | None = None,
             data_path: str | Path | None = None, only: list[str] | None = None,
             max_runs: int | None = None, record_only: bool = False) -> int:
    """Train every planned run that is not yet recorded; return how many were recorded.

    Args:
        plan_path: the plan JSON (format in the module docstring).
        results_path: overrides the plan's results file.
        data_path: the built dataset (default ``~/.cache/pgfnet/mosi.pgfdata``).
        only: restrict to these entry names.
        max_runs: stop after recording this many runs.
        record_only: record run folders that already finished, but train nothing.
    """
    from pgfnet.data.format import MosiData
    from pgfnet.paths import default_dataset_path
    from pgfnet.training.trainer import METRICS_FILE, train

    plan = load_plan(plan_path)
    results = Path(results_path) if results_path is not None else plan.results
    data_path = Path(data_path) if data_path is not None else default_dataset_path()
    data = None
    if only:
        unknown = sorted(set(only) - {entry["name"] for entry in plan.entries})
        if unknown:
            raise ValueError(f"unknown plan entries {unknown} in --only; the plan has "
                             f"{[entry['name'] for entry in plan.entries]}")

    recorded = 0
    for run in plan.runs:
        if only and run.name not in only:
            continue
        if max_runs is not None and recorded >= max_runs:
            break
        done = {(r["name"], r["seed"]) for r in read_results(results)}
        if run.key in done:
            continue
        run_dir = plan.runs_dir / f"{run.name}-seed{run.seed}"
        plan.runs_dir.mkdir(parents=True, exist_ok=True)
        with open(plan.runs_dir / f"{run.name}-seed{run.seed}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("skipping %s seed %d: another sweep process is training it",
                            run.name, run.seed)
                continue
            if run.key in {(r["name"], r["seed"]) for r in read_results(results)}:
                continue
            if not (run_dir / METRICS_FILE).is_file():
                if record_only:
                    continue
                if data is None:
                    data = MosiData.load(data_path)
                logger.info("sweep: training %s seed %d in %s", run.name, run.seed, run_dir)
                train(run.config, data, run_dir, resume=True, data_path=data_path, progress=False)
            append_result(results, make_record(run, run_dir))
            recorded += 1
            logger.info("sweep: recorded %s seed %d in %s", run.name, run.seed, results)
    return recorded
