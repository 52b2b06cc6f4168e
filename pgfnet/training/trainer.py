"""The PGF-Net training loop with early stopping and exact resume after a crash.

A run writes into one output folder:

- the best checkpoint so far (``config.json``, ``model.safetensors``, ``adapter/``),
  replaced whenever the validation MAE improves;
- ``history.json``: one entry per finished epoch;
- ``train_state.safetensors``: everything needed to continue (trainable weights,
  AdamW state, the torch RNG state, epoch, batch position, early-stopping counters),
  written atomically every ``config.checkpoint_every_steps`` optimizer steps and at
  each epoch end, and removed when the run finishes;
- at the end: ``metrics.json`` (test metrics), ``predictions.json`` (valid and test),
  ``info.json`` (parameter breakdown, data sha256, timing).

Resuming reloads the state and skips the batches already done in that epoch. The batch
order of an epoch depends only on (seed, epoch), and dropout draws from the restored
RNG. A run killed at any point and resumed therefore ends with the same weights as an
uninterrupted run, given the same machine and the same number of torch threads.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pgfnet.io import atomic_path, atomic_write_text, sha256_file
from pgfnet.model.config import PGFNetConfig
from pgfnet.model.pgfnet import PGFNet
from pgfnet.training.evaluate import predict_split, token_lengths, tokenizer_for

logger = logging.getLogger(__name__)

STATE_FILE = "train_state.safetensors"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.json"
INFO_FILE = "info.json"

# Batches are sorted by length inside pools of this many batches, then the batch order
# is shuffled, so padding stays low and every epoch still gets a new order.
BUCKET_POOL_BATCHES = 8


class RunAlreadyExistsError(ValueError):
    """Raised when the output folder contains a run that the caller did not ask to resume."""


@dataclass
class TrainingState:
    """The counters that, with the weights, optimizer and RNG, define a point in a run.

    Attributes:
        epoch: 0-based epoch in progress (equal to the epochs run once training stops).
        batch_in_epoch: batches of ``epoch`` already done.
        global_step: optimizer steps so far.
        loss_sum: sum of the batch losses of ``epoch`` so far (for the epoch's mean).
        best_valid_mae: best validation MAE so far (inf before the first epoch end).
        best_epoch: the 0-based epoch that reached it (-1 before).
        epochs_without_improvement: consecutive epochs since the last improvement.
        stopped: True once early stopping or the epoch limit ended training.
        train_seconds: training time accumulated over every session of this run.
        history: one dict per finished epoch.
    """

    epoch: int = 0
    batch_in_epoch: int = 0
    global_step: int = 0
    loss_sum: float = 0.0
    best_valid_mae: float = math.inf
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    stopped: bool = False
    train_seconds: float = 0.0
    history: list[dict] = field(default_factory=list)


@dataclass
class TrainResult:
    """Result of :func:`train`: the output folder, test metrics and the best epoch."""

    out_dir: Path
    metrics: dict
    best_epoch: int
    epochs_run: int


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Return the batches (lists of dataset positions) of one training epoch.

    Positions are shuffled, sorted by length inside pools of ``BUCKET_POOL_BATCHES``
    batches, cut into batches, and the batch order is shuffled again. The result depends
    only on (lengths, batch_size, seed, epoch).
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * BUCKET_POOL_BATCHES
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size))
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


def learning_rate_factor(step: int, total_steps: int, warmup_ratio: float) -> float:
    """Return the schedule factor at optimizer ``step``: linear warm-up, then linear decay to 0."""
    warmup = int(round(total_steps * warmup_ratio))
    if warmup and step < warmup:
        return (step + 1) / warmup
    remaining = max(1, total_steps - warmup)
    return max(0.0, (total_steps - step) / remaining)


def build_optimizer(model: PGFNet, config: PGFNetConfig) -> torch.optim.AdamW:
    """Return AdamW with groups for LoRA (``lr_lora``), new weight matrices (weight
    decay) and new biases, norms and embeddings (no decay). New parts train at
    ``lr_new``. With ``lr_fusion`` set, the key encoder and the fused layers get their
    own two groups at that rate."""
    lora: list = []
    new = {"decay": [], "no_decay": []}
    fusion = {"decay": [], "no_decay": []} if config.lr_fusion is not None else new
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if "lora_" in name:
            lora.append(parameter)
            continue
        target = fusion if name.startswith(("nonverbal.", "fusion.")) else new
        if parameter.ndim >= 2 and "modality_embedding" not in name:
            target["decay"].append(parameter)
        else:
            target["no_decay"].append(parameter)

    def group(params: list, lr: float, weight_decay: float) -> dict:
        return {"params": params, "lr": lr, "weight_decay": weight_decay, "base_lr": lr}

    groups = [
        group(lora, config.lr_lora, config.weight_decay),
        group(new["decay"], config.lr_new, config.weight_decay),
        group(new["no_decay"], config.lr_new, 0.0),
    ]
    if fusion is not new:
        groups += [
            group(fusion["decay"], config.lr_fusion, config.weight_decay),
            group(fusion["no_decay"], config.lr_fusion, 0.0),
        ]
    # NOTE: exact resume is tested with the per-parameter AdamW path (foreach=False) only.
    return torch.optim.AdamW([g for g in groups if g["params"]], foreach=False)


# -- resumable state --------------------------------------------------------------------


def save_state(path: Path, model: PGFNet, optimizer: torch.optim.Optimizer,
               state: TrainingState, config: PGFNetConfig) -> None:
    """Write the resumable training state to ``path`` in one atomic safetensors file."""
    from safetensors.torch import save_file

    tensors = {f"model.{name}": tensor.contiguous().clone()
               for name, tensor in model.trainable_state_dict().items()}
    optimizer_state = optimizer.state_dict()
    for index, values in optimizer_state["state"].items():
        for key, value in values.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).clone()
    tensors["rng.torch"] = torch.get_rng_state()

    metadata = {
        "state": json.dumps(state.__dict__, allow_nan=True),
        "param_groups": json.dumps(optimizer_state["param_groups"]),
        "config": json.dumps(config.to_dict(), sort_keys=True),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_state(path: Path, model: PGFNet, optimizer: torch.optim.Optimizer,
               config: PGFNetConfig) -> TrainingState:
    """Restore weights, optimizer and RNG from ``path``; return the counters.

    Raises ValueError when the state was written with another config.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    # Fields added since the state was written take their defaults, so an older run
    # still resumes when the new fields are left at those defaults.
    saved_config = PGFNetConfig.from_dict(json.loads(metadata["config"])).to_dict()
    current = config.to_dict()
    if saved_config != current:
        changed = sorted(k for k in current if saved_config.get(k) != current.get(k))
        raise ValueError(
            f"the training state {path} was written with a different config (keys {changed}): "
            "resume with the original config file or use a new --out folder"
        )

    model_tensors = {name[len("model."):]: t for name, t in tensors.items() if name.startswith("model.")}
    model.load_state_dict(model_tensors, strict=False)

    optimizer_state: dict = {"state": {}, "param_groups": json.loads(metadata["param_groups"])}
    for name, tensor in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            optimizer_state["state"].setdefault(int(index), {})[key] = tensor
    optimizer.load_state_dict(optimizer_state)
    torch.set_rng_state(tensors["rng.torch"])
    return TrainingState(**json.loads(metadata["state"]))


# -- the loop ---------------------------------------------------------------------------


def _loss_function(config: PGFNetConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return nn.functional.l1_loss if config.loss == "l1" else nn.functional.mse_loss


def _prepare_out_dir(out_dir: Path, resume: bool) -> Path | None:
    """Return the state file to resume from, or None for a fresh run."""
    state_path = out_dir / STATE_FILE
    if state_path.is_file():
        if not resume:
            raise RunAlreadyExistsError(
                f"{out_dir} contains an unfinished run: pass --resume to continue it or "
                "choose another --out folder"
            )
        return state_path
    if (out_dir / METRICS_FILE).is_file():
        raise RunAlreadyExistsError(
            f"{out_dir} already contains a finished run (metrics.json): choose another --out folder"
        )
    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        raise RunAlreadyExistsError(
            f"output folder {out_dir} is not empty: choose a new --out folder"
        )
    return None


def train(
    config: PGFNetConfig,
    data,
    out_dir: str | Path,
    *,
    resume: bool = False,
    backbone: nn.Module | None = None,
    data_path: str | Path | None = None,
    progress: bool = True,
    stop_after_steps: int | None = None,
) -> TrainResult | None:
    """Train PGF-Net on the train split, stop early on the valid split, test the best.

    Args:
        config: every hyperparameter (also saved as the checkpoint's config.json).
        data: a loaded :class:`~pgfnet.data.format.MosiData`.
        out_dir: the run folder (layout in the module docstring).
        resume: continue from ``out_dir/train_state.safetensors`` when it exists.
        backbone: an already built encoder (tests); None loads ``config.backbone``.
        data_path: the dataset file, recorded by sha256 in info.json.
        progress: show a tqdm progress bar per epoch.
        stop_after_steps: stop (returning None) after this many optimizer steps in
            this call, after saving the state; tests use it to simulate a crash.

    Returns:
        :class:`TrainResult`, or None when ``stop_after_steps`` ended the call early.
    """
    from tqdm import tqdm

    from pgfnet.data.dataset import MosiTorchDataset, collate_examples

    out_dir = Path(out_dir)
    state_path = _prepare_out_dir(out_dir, resume)
    out_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    model = PGFNet(config, backbone=backbone)
    optimizer = build_optimizer(model, config)
    tokenizer = tokenizer_for(config.backbone)
    loss_function = _loss_function(config)

    train_set = MosiTorchDataset(data, "train")
    train_examples = [train_set[i] for i in range(len(train_set))]
    lengths = token_lengths([e.text for e in train_examples], tokenizer)
    steps_per_epoch = math.ceil(len(train_examples) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    state = TrainingState()
    if state_path is not None:
        state = load_state(state_path, model, optimizer, config)
        logger.info("resuming %s at epoch %d, batch %d (step %d)",
                    out_dir, state.epoch + 1, state.batch_in_epoch, state.global_step)
    else:
        config.save(out_dir / "config.json")
        logger.info("training %s: %d train utterances, %d steps per epoch, at most %d epochs",
                    out_dir, len(train_examples), steps_per_epoch, config.epochs)

    steps_this_call = 0
    while not state.stopped:
        batches = epoch_batches(lengths, config.batch_size, config.seed, state.epoch)
        model.train()
        bar = tqdm(total=len(batches), initial=state.batch_in_epoch, disable=not progress,
                   desc=f"epoch {state.epoch + 1}/{config.epochs}", unit="batch", leave=False)
        session_start = time.perf_counter()
        while state.batch_in_epoch < len(batches):
            positions = batches[state.batch_in_epoch]
            batch = collate_examples([train_examples[i] for i in positions], tokenizer,
                                     config.max_text_length)
            factor = learning_rate_factor(state.global_step, total_steps, config.warmup_ratio)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor

            prediction = model.forward_batch(batch).prediction
            loss = loss_function(prediction, batch.labels)
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], config.grad_clip
                )
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            state.loss_sum += float(loss.detach())
            state.batch_in_epoch += 1
            state.global_step += 1
            steps_this_call += 1
            bar.update(1)
            bar.set_postfix(loss=f"{state.loss_sum / state.batch_in_epoch:.4f}")

            if state.global_step % config.checkpoint_every_steps == 0:
                state.train_seconds += time.perf_counter() - session_start
                session_start = time.perf_counter()
                save_state(out_dir / STATE_FILE, model, optimizer, state, config)
            if stop_after_steps is not None and steps_this_call >= stop_after_steps:
                bar.close()
                state.train_seconds += time.perf_counter() - session_start
                save_state(out_dir / STATE_FILE, model, optimizer, state, config)
                return None
        bar.close()
        state.train_seconds += time.perf_counter() - session_start
        _finish_epoch(model, data, tokenizer, config, state, len(batches), out_dir)
        save_state(out_dir / STATE_FILE, model, optimizer, state, config)

    return _finish_run(model, data, tokenizer, config, state, out_dir, data_path)


def _finish_epoch(model: PGFNet, data, tokenizer, config: PGFNetConfig, state: TrainingState,
                  batch_count: int, out_dir: Path) -> None:
    """Validate, keep the best checkpoint, log the epoch and update the stopping counters."""
    start = time.perf_counter()
    valid = predict_split(model, data, "valid", tokenizer)
    valid_metrics = valid.metrics()
    eval_seconds = time.perf_counter() - start

    improved = valid_metrics["MAE"] < state.best_valid_mae
    if improved:
        state.best_valid_mae = valid_metrics["MAE"]
        state.best_epoch = state.epoch
        state.epochs_without_improvement = 0
        model.save_pretrained(out_dir)
    else:
        state.epochs_without_improvement += 1

    entry = {
        "epoch": state.epoch + 1,
        "train_loss": state.loss_sum / max(1, batch_count),
        "valid_MAE": valid_metrics["MAE"],
        "valid_Corr": valid_metrics["Corr"],
        "valid_Non0_F1_score": valid_metrics["Non0_F1_score"],
        "valid_Has0_acc_2": valid_metrics["Has0_acc_2"],
        "improved": improved,
        "global_step": state.global_step,
        "train_seconds_total": round(state.train_seconds, 2),
        "valid_seconds": round(eval_seconds, 2),
    }
    state.history.append(entry)
    atomic_write_text(out_dir / HISTORY_FILE, json.dumps(state.history, indent=2) + "\n")
    logger.info(
        "epoch %d/%d: train loss %.4f, valid MAE %.4f, Corr %.4f, Non0_F1 %.4f%s",
        entry["epoch"], config.epochs, entry["train_loss"], entry["valid_MAE"],
        entry["valid_Corr"], entry["valid_Non0_F1_score"], " (best)" if improved else "",
    )

    state.epoch += 1
    state.batch_in_epoch = 0
    state.loss_sum = 0.0
    if state.epoch >= config.epochs:
        state.stopped = True
    elif state.epochs_without_improvement >= config.patience:
        logger.info("early stopping: no valid MAE improvement for %d epochs", config.patience)
        state.stopped = True


def _finish_run(model: PGFNet, data, tokenizer, config: PGFNetConfig, state: TrainingState,
                out_dir: Path, data_path: str | Path | None) -> TrainResult:
    """Reload the best weights, write metrics, predictions and info, drop the state file."""
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(out_dir / "model.safetensors")), strict=False)
    best = model.eval()
    start = time.perf_counter()
    test = predict_split(best, data, "test", tokenizer)
    test_seconds = time.perf_counter() - start
    valid = predict_split(best, data, "valid", tokenizer)

    metrics = test.metrics()
    atomic_write_text(out_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    atomic_write_text(
        out_dir / PREDICTIONS_FILE,
        json.dumps({"test": test.as_dict(), "valid": valid.as_dict()}, indent=2) + "\n",
    )
    info = {
        "parameters": best.parameter_breakdown(),
        "data_file": str(data_path) if data_path is not None else None,
        "data_sha256": sha256_file(data_path) if data_path is not None else None,
        "best_epoch": state.best_epoch + 1,
        "epochs_run": state.epoch,
        "best_valid_MAE": state.best_valid_mae,
        "valid_metrics": valid.metrics(),
        "train_seconds": round(state.train_seconds, 2),
        "test_eval_seconds": round(test_seconds, 2),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    atomic_write_text(out_dir / INFO_FILE, json.dumps(info, indent=2) + "\n")
    (out_dir / STATE_FILE).unlink(missing_ok=True)
    logger.info("finished %s: best epoch %d, test MAE %.4f, Non0_F1 %.4f",
                out_dir, state.best_epoch + 1, metrics["MAE"], metrics["Non0_F1_score"])
    return TrainResult(out_dir, metrics, state.best_epoch + 1, state.epoch)


def copy_checkpoint(run_dir: Path, target: Path) -> None:
    """Copy the shippable files of a finished run (no training state) to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", METRICS_FILE, PREDICTIONS_FILE,
                 HISTORY_FILE, INFO_FILE):
        shutil.copy2(run_dir / name, target / name)
    if (run_dir / "adapter").is_dir():
        shutil.rmtree(target / "adapter", ignore_errors=True)
        shutil.copytree(run_dir / "adapter", target / "adapter")
