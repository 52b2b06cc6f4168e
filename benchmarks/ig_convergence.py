"""Check how well integrated gradients converge for a checkpoint on a split.

Usage:
    .venv/bin/python benchmarks/ig_convergence.py --checkpoint DIR [--split valid]
        [--every 12] [--n-steps 64] [--out FILE]

Explains every ``--every``-th utterance of the split and counts the utterances whose
convergence delta breaks the completeness bound that the tests use,
|delta| <= 0.002 + 0.01 * |f(x) - f(baseline)| in sentiment units. It prints one JSON
object and also writes it to ``--out``. A checkpoint with violations gives attributions
that do not add up to its prediction change at that number of steps.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint folder")
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--every", type=int, default=12, help="explain every N-th utterance")
    parser.add_argument("--n-steps", type=int, default=64, help="integration steps")
    parser.add_argument("--data", type=Path, default=None, help="built dataset file")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    if args.every < 1:
        parser.error(f"invalid --every {args.every}: use a positive step")

    from pgfnet.data.format import MosiData
    from pgfnet.explain.engine import Explainer
    from pgfnet.explain.record import IG_DELTA_ABSOLUTE, IG_DELTA_RELATIVE
    from pgfnet.io import atomic_write_text
    from pgfnet.model.pgfnet import PGFNet
    from pgfnet.paths import default_dataset_path

    torch.set_num_threads(args.threads)
    data = MosiData.load(args.data or default_dataset_path())
    explainer = Explainer(PGFNet.from_pretrained(args.checkpoint), data, n_steps=args.n_steps)
    ids = [data.example(i).id for i in data.split_indices(args.split)[:: args.every]]

    violations, largest = [], 0.0
    for utterance_id in ids:
        record = explainer.explain(utterance_id)
        largest = max(largest, abs(record.convergence_delta))
        if not record.ig_within_bound:
            violations.append(utterance_id)

    result = {
        "checkpoint": str(args.checkpoint),
        "split": args.split,
        "every": args.every,
        "n_steps": args.n_steps,
        "utterances": len(ids),
        "violations": len(violations),
        "violating_ids": violations,
        "max_abs_delta": largest,
        "bound": f"|delta| <= {IG_DELTA_ABSOLUTE} + {IG_DELTA_RELATIVE} * |f(x) - f(baseline)|",
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
