"""Time the explanation engine on one utterance and on a whole split.

Prints, for one utterance, the median wall-clock time of:

- a plain forward pass (batch of 1, prediction only): the unit of every ratio;
- the forward pass with its attention and gate arrays copied out, as in the record;
- integrated gradients at ``--ig-steps`` steps (default 32);
- the Shapley values (8 coalitions in one batched forward pass);
- one whole ``Explainer.explain`` call;

then the time of ``predict_overview`` on the split and of precomputing every
explanation of the split into a fresh cache folder. Each figure is also printed as a
multiple of the plain forward pass.

Usage::

    .venv/bin/python benchmarks/bench_explain.py --checkpoint assets/checkpoint
    .venv/bin/python benchmarks/bench_explain.py --untrained   # real MiniLM, random fusion

``--precompute-limit N`` times only the first N utterances of the split and prints the
full-split figure as a linear estimate, marked as such.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch


def median_seconds(function, repeats: int, warmup: int = 1) -> float:
    """Return the median wall-clock seconds of ``function()`` over ``repeats`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_explainer(args):
    from pgfnet.data.format import MosiData
    from pgfnet.explain.engine import Explainer
    from pgfnet.model.config import PGFNetConfig
    from pgfnet.model.pgfnet import PGFNet
    from pgfnet.paths import default_dataset_path

    if args.untrained:
        data = MosiData.load(args.data or default_dataset_path())
        model = PGFNet(PGFNetConfig())
        model.eval()
        return Explainer(model, data, n_steps=args.ig_steps), "untrained PGF-Net (real all-MiniLM-L6-v2, random fusion)"
    explainer = Explainer.from_checkpoint(args.checkpoint, args.data, n_steps=args.ig_steps)
    return explainer, f"checkpoint {args.checkpoint}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="assets/checkpoint", help="checkpoint folder")
    parser.add_argument("--untrained", action="store_true",
                        help="time an untrained PGF-Net with the real backbone instead of a checkpoint")
    parser.add_argument("--data", default=None, help="built dataset file (default: the cache's mosi.pgfdata)")
    parser.add_argument("--id", default="03bSnISJMiM_1", help="utterance to time")
    parser.add_argument("--split", default="test", help="split for the overview and precompute figures")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default: 2)")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per figure (median)")
    parser.add_argument("--ig-steps", type=int, default=32, help="integrated-gradients steps")
    parser.add_argument("--precompute-limit", type=int, default=None,
                        help="precompute only the first N utterances and extrapolate")
    parser.add_argument("--skip-split", action="store_true", help="skip the overview and precompute figures")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    from pgfnet.explain.attributions import integrated_gradients
    from pgfnet.explain.baselines import coalition_batch
    from pgfnet.explain.cache import ExplanationCache
    from pgfnet.explain.shapley import coalitions, shapley_values

    explainer, description = build_explainer(args)
    model = explainer.model
    example = explainer.example(args.id)
    batch = explainer.collate([example])
    print(f"model: {description}")
    # Other processes on the same cores slow every figure down; the load shows how much.
    print(f"load average (1, 5, 15 min) at start: {os.getloadavg()}")
    print(f"utterance {args.id}: {int(batch.attention_mask.sum())} word pieces, "
          f"{batch.visual.shape[1]} visual frames; torch threads: {torch.get_num_threads()}")

    def plain_forward():
        with torch.no_grad():
            return model.forward_batch(batch).prediction

    def forward_with_arrays():
        with torch.no_grad():
            output = model.forward_batch(batch)
        attention = [a[0].numpy().copy() for a in output.attentions]
        gates = [g[0].numpy().copy() for g in output.gates]
        return output.prediction, attention, gates

    def ig():
        return integrated_gradients(model, batch, pad_id=explainer.pad_id, keep_ids=explainer.keep_ids,
                                    n_steps=args.ig_steps)

    def shapley():
        rows = coalition_batch(batch, explainer.pad_id, explainer.keep_ids)
        with torch.no_grad():
            predictions = model.forward_batch(rows).prediction.double().tolist()
        return shapley_values(dict(zip(coalitions(), predictions)))

    def explain():
        return explainer.explain(args.id)

    unit = median_seconds(plain_forward, args.repeats)
    rows = [("plain forward (1 utterance)", unit)]
    rows.append(("forward with attention and gates", median_seconds(forward_with_arrays, args.repeats)))
    rows.append((f"integrated gradients, {args.ig_steps} steps", median_seconds(ig, args.repeats)))
    rows.append(("Shapley values (8 coalitions, 1 pass)", median_seconds(shapley, args.repeats)))
    rows.append(("whole explanation (explain)", median_seconds(explain, args.repeats)))

    print()
    print(f"{'one utterance':<42}{'median s':>10}{'x forward':>11}")
    for name, seconds in rows:
        print(f"{name:<42}{seconds:>10.4f}{seconds / unit:>11.1f}")

    if args.skip_split:
        print(f"load average (1, 5, 15 min) at end: {os.getloadavg()}")
        return

    ids = [explainer.data.utterances[i].id for i in explainer.data.split_indices(args.split)]
    print()
    print(f"{args.split} split ({len(ids)} utterances){'':<14}{'s':>10}{'x forward':>11}")
    start = time.perf_counter()
    explainer.predict_overview(args.split)
    overview_seconds = time.perf_counter() - start
    print(f"{'overview (no IG, coalition rows only)':<42}{overview_seconds:>10.1f}{overview_seconds / unit:>11.0f}",
          flush=True)

    chosen = ids if args.precompute_limit is None else ids[: args.precompute_limit]
    with tempfile.TemporaryDirectory() as root:
        cache = ExplanationCache(root, explainer.model_id, explainer.dataset_sha256)
        start = time.perf_counter()
        summary = cache.precompute(explainer, chosen)
        precompute_seconds = time.perf_counter() - start
    if summary.failed:
        print(f"precompute failures: {summary.failed}")

    if len(chosen) == len(ids):
        print(f"{'precompute (every explanation)':<42}{precompute_seconds:>10.1f}{precompute_seconds / unit:>11.0f}")
    else:
        estimate = precompute_seconds / len(chosen) * len(ids)
        print(f"{f'precompute, {len(chosen)} utterances measured':<42}{precompute_seconds:>10.1f}"
              f"{precompute_seconds / unit:>11.0f}")
        print(f"{'precompute, whole split (linear estimate)':<42}{estimate:>10.1f}{estimate / unit:>11.0f}")
    per_utterance = np.float64(precompute_seconds) / max(1, len(chosen))
    print(f"precompute per utterance: {per_utterance:.3f} s")
    print(f"load average (1, 5, 15 min) at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
