"""Subcommands of `pgfnet` for training: train, evaluate, info, sweep, sweep-report."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the training subcommands to the `pgfnet` parser."""
    train = subparsers.add_parser(
        "train", help="train PGF-Net from a config file (resumable)",
        description="Train PGF-Net on the train split with early stopping on the valid "
                    "split, then write test metrics and predictions beside the weights.",
    )
    train.add_argument("--config", required=True, type=Path,
                       help="JSON file with PGFNetConfig fields (missing ones take defaults)")
    train.add_argument("--out", type=Path, default=None,
                       help="run folder (default: runs/<config name>-seed<seed>)")
    train.add_argument("--data", type=Path, default=None,
                       help="built dataset file (default: ~/.cache/pgfnet/mosi.pgfdata)")
    train.add_argument("--resume", action="store_true",
                       help="continue the unfinished run in --out from its last saved state")
    train.add_argument("--seed", type=int, default=None, help="override the config's seed")
    train.add_argument("--threads", type=int, default=None,
                       help="torch CPU threads; resume with the same number for identical weights")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="compute MMSA metrics of a checkpoint on a split",
        description="Load a checkpoint folder, predict a split and print MMSA's metrics as JSON.",
    )
    evaluate.add_argument("--checkpoint", required=True, type=Path, help="checkpoint folder")
    evaluate.add_argument("--split", default="test", choices=("train", "valid", "test"))
    evaluate.add_argument("--data", type=Path, default=None,
                          help="built dataset file (default: ~/.cache/pgfnet/mosi.pgfdata)")
    evaluate.add_argument("--out", type=Path, default=None, help="also write the metrics JSON here")
    evaluate.add_argument("--predictions", type=Path, default=None,
                          help="also write {id: prediction} JSON here")
    evaluate.add_argument("--drop-modalities", nargs="+", default=(), choices=("acoustic", "visual"),
                          help="mask out these nonverbal keys in every utterance")
    evaluate.add_argument("--force-gate", type=float, default=None,
                          help="force this gate value (0 to 1) in every fused layer; 1 is text only")
    evaluate.set_defaults(func=run_evaluate)

    info = subparsers.add_parser(
        "info", help="print a checkpoint's trainable parameters by part",
        description="Print the trainable-parameter breakdown of a checkpoint (or of a config).",
    )
    source = info.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="checkpoint folder")
    source.add_argument("--config", type=Path, help="config JSON (builds an untrained model)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=run_info)

    sweep = subparsers.add_parser(
        "sweep", help="run every (config, seed) of a plan, skipping recorded runs",
        description="Run a sweep plan; each finished run is appended to the results file, "
                    "so an interrupted sweep continues where it stopped.",
    )
    sweep.add_argument("--plan", required=True, type=Path, help="sweep plan JSON")
    sweep.add_argument("--results", type=Path, default=None,
                       help="results JSONL (default: the plan's 'results' entry)")
    sweep.add_argument("--data", type=Path, default=None, help="built dataset file")
    sweep.add_argument("--only", nargs="*", default=None, help="run only these plan entry names")
    sweep.add_argument("--max-runs", type=int, default=None, help="stop after this many new runs")
    sweep.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    sweep.add_argument("--record-only", action="store_true",
                       help="record run folders that already finished; train nothing")
    sweep.set_defaults(func=run_sweep)

    report = subparsers.add_parser(
        "sweep-report", help="write docs/RESULTS.md from a sweep's results file",
    )
    report.add_argument("--plan", required=True, type=Path, help="sweep plan JSON")
    report.add_argument("--results", type=Path, default=None, help="results JSONL")
    report.add_argument("--out", type=Path, default=Path("docs/RESULTS.md"), help="Markdown file to write")
    report.set_defaults(func=run_sweep_report)


def _set_threads(threads: int | None) -> None:
    import torch

    if threads is not None:
        if threads < 1:
            raise ValueError(f"invalid --threads {threads}: use 1 or more")
        torch.set_num_threads(threads)


def run_train(args: argparse.Namespace) -> int:
    from pgfnet.data.format import MosiData
    from pgfnet.model.config import PGFNetConfig
    from pgfnet.paths import default_dataset_path
    from pgfnet.training.trainer import train

    _set_threads(args.threads)
    config = PGFNetConfig.load(args.config)
    if args.seed is not None:
        config.seed = args.seed
    out = args.out or Path("runs") / f"{args.config.stem}-seed{config.seed}"
    data_path = args.data or default_dataset_path()
    data = MosiData.load(data_path)
    result = train(config, data, out, resume=args.resume, data_path=data_path,
                   progress=not args.no_progress)
    print(json.dumps(result.metrics, indent=2))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from pgfnet.io import atomic_write_text
    from pgfnet.training.evaluate import evaluate_checkpoint

    metrics, predictions = evaluate_checkpoint(
        args.checkpoint, args.split, args.data,
        drop_modalities=tuple(args.drop_modalities), force_gate=args.force_gate,
    )
    text = json.dumps(metrics, indent=2) + "\n"
    sys.stdout.write(text)
    if args.out is not None:
        atomic_write_text(args.out, text)
    if args.predictions is not None:
        atomic_write_text(args.predictions, json.dumps(predictions.as_dict(), indent=2) + "\n")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from pgfnet.model.config import PGFNetConfig
    from pgfnet.model.pgfnet import PGFNet

    if args.checkpoint is not None:
        model = PGFNet.from_pretrained(args.checkpoint)
    else:
        model = PGFNet(PGFNetConfig.load(args.config))
    breakdown = model.parameter_breakdown()
    if args.json:
        print(json.dumps(breakdown, indent=2))
        return 0
    print(format_breakdown(breakdown, model.config.backbone, model.fused_layers))
    return 0


def format_breakdown(breakdown: dict[str, int], backbone: str, fused_layers: list[int]) -> str:
    """Return the parameter breakdown as an aligned text table."""
    lines = [f"backbone: {backbone} (frozen), fused encoder layers: {fused_layers}", ""]
    width = max(len(name) for name in breakdown)
    for name, count in breakdown.items():
        if name == "total_trainable":
            lines.append("-" * (width + 14))
        lines.append(f"{name:<{width}}  {count:>12,}")
    lines.append("")
    lines.append(f"trainable budget of the PGF-Net paper: 3,090,000; "
                 f"this model uses {breakdown['total_trainable'] / 3.09e6:.1%} of it")
    return "\n".join(lines)


def run_sweep(args: argparse.Namespace) -> int:
    from pgfnet.training.sweep import run_plan

    _set_threads(args.threads)
    run_plan(args.plan, results_path=args.results, data_path=args.data, only=args.only,
             max_runs=args.max_runs, record_only=args.record_only)
    return 0


def run_sweep_report(args: argparse.Namespace) -> int:
    from pgfnet.training.report import write_report

    write_report(args.plan, args.out, results_path=args.results)
    logger.info("wrote %s", args.out)
    return 0
