"""`pgfnet explain` (one utterance) and `pgfnet precompute` (a whole split, for the dashboard)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the `explain` and `precompute` subcommands to the `pgfnet` parser."""
    from pgfnet.paths import default_checkpoint

    explain = subparsers.add_parser(
        "explain",
        help="explain one utterance: prediction, attention, gates, attributions, Shapley values",
        description="Explain one utterance of the built dataset with a trained checkpoint.",
    )
    explain.add_argument("--checkpoint", default=str(default_checkpoint()),
                         help="checkpoint folder (default: %(default)s)")
    explain.add_argument("--id", required=True, dest="utterance_id",
                         help="utterance id, e.g. 03bSnISJMiM_1")
    explain.add_argument("--data", default=None,
                         help="built dataset file (default: ~/.cache/pgfnet/mosi.pgfdata)")
    explain.add_argument("--format", choices=("json", "text"), default="text",
                         help="json: the whole record on stdout; text: a readable summary")
    explain.add_argument("--n-steps", type=int, default=32,
                         help="integrated-gradients steps (default: %(default)s)")
    explain.add_argument("--out", default=None,
                         help="also save the record as OUT.json and OUT.npz")
    explain.add_argument("--threads", type=int, default=None,
                         help="torch intra-op threads (default: torch's choice, one per core)")
    explain.set_defaults(func=run_explain)

    precompute = subparsers.add_parser(
        "precompute",
        help="explain every utterance of a split into a resumable cache folder",
        description=(
            "Explain every utterance of a split and store the records, with checksums, in "
            "a folder named after the checkpoint and the dataset; also store the split's "
            "overview table. A run that was stopped continues where it left off."
        ),
    )
    precompute.add_argument("--checkpoint", default=str(default_checkpoint()),
                            help="checkpoint folder (default: %(default)s)")
    precompute.add_argument("--split", choices=("train", "valid", "test"), default="test",
                            help="split to explain (default: %(default)s)")
    precompute.add_argument("--out", default=None,
                            help="cache root (default: ~/.cache/pgfnet/explanations)")
    precompute.add_argument("--data", default=None,
                            help="built dataset file (default: ~/.cache/pgfnet/mosi.pgfdata)")
    precompute.add_argument("--n-steps", type=int, default=32,
                            help="integrated-gradients steps (default: %(default)s)")
    precompute.add_argument("--threads", type=int, default=None,
                            help="torch intra-op threads (default: torch's choice, one per core); "
                                 "1 is faster when other processes share the cores")
    precompute.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    precompute.set_defaults(func=run_precompute)


def format_text(record) -> str:
    """Return a readable summary of an explanation."""
    from pgfnet.explain.words import word_scores

    label = "none" if record.label is None else f"{record.label:+.3f}"
    lines = [
        f"utterance: {record.id} ({record.split})",
        f"text: {record.text!r}",
        f"prediction: {record.prediction:+.3f}   label: {label}",
        "",
        "Shapley values (sum = f(all) - f(none)):",
    ]
    for modality, value in record.shapley.items():
        lines.append(f"  {modality:<9}{value:+.4f}")
    lines.append(f"interaction: {record.interaction} (largest: {record.dominant_modality})")
    lines.append("")
    lines.append(f"integrated gradients ({record.n_steps} steps, convergence delta {record.convergence_delta:+.2e}):")
    if not record.ig_within_bound:
        lines.append("  warning: the convergence delta is outside the completeness bound, so these "
                     "attributions do not add up; rerun with a larger --n-steps")
    for modality, total in record.attribution_totals.items():
        lines.append(f"  {modality:<9}{total:+.4f}  share {record.attribution_shares[modality]:.2f}")
    if record.words:
        scores = word_scores(record.attr_text, record.token_word, len(record.words))
        ranked = sorted(range(len(record.words)), key=lambda i: -abs(scores[i]))[:5]
        lines.append("  top words: " + ", ".join(f"{record.words[i]} {scores[i]:+.3f}" for i in ranked))
    lines.append("")
    lines.append("mean gate per fused layer (1 = text only):")
    for index, layer in enumerate(record.fused_layers):
        lines.append(f"  layer {layer}: {float(record.gate_tokens[index].mean()):.3f}")
    if record.notes:
        lines.append("")
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in record.notes)
    return "\n".join(lines)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"invalid --threads {threads}: use 1 or more")
    import torch

    torch.set_num_threads(threads)


def run_explain(args: argparse.Namespace) -> int:
    """Explain one utterance and print it."""
    from pgfnet.explain.engine import Explainer
    from pgfnet.paths import validate_utterance_id

    validate_utterance_id(args.utterance_id)
    _set_threads(args.threads)
    explainer = Explainer.from_checkpoint(args.checkpoint, args.data, n_steps=args.n_steps)
    record = explainer.explain(args.utterance_id)
    if args.out:
        record.save(args.out)
    if args.format == "json":
        json.dump(record.to_json_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(format_text(record))
    return 0


def run_precompute(args: argparse.Namespace) -> int:
    """Fill the explanation cache for one split; exit 1 when some utterances failed."""
    from tqdm import tqdm

    from pgfnet.explain.cache import ExplanationCache, default_cache_root
    from pgfnet.explain.engine import Explainer

    _set_threads(args.threads)
    explainer = Explainer.from_checkpoint(args.checkpoint, args.data, n_steps=args.n_steps)
    root = args.out if args.out is not None else default_cache_root()
    cache = ExplanationCache(root, explainer.model_id, explainer.dataset_sha256)
    ids = [explainer.data.utterances[i].id for i in explainer.data.split_indices(args.split)]

    if cache.load_overview(args.split) is None:
        logger.info("computing the %s overview table (%d utterances)", args.split, len(ids))
        cache.save_overview(explainer.predict_overview(args.split))

    with tqdm(total=len(ids), desc=f"explain {args.split}", unit="utt", disable=args.no_progress) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        summary = cache.precompute(explainer, ids, progress=progress)

    print(
        f"{cache.directory}: {len(summary.computed)} computed, {len(summary.skipped)} "
        f"already cached, {len(summary.failed)} failed in {summary.seconds:.1f} s"
    )
    for utterance_id, message in summary.failed.items():
        print(f"failed: {utterance_id}: {message}", file=sys.stderr)
    return 1 if summary.failed else 0
