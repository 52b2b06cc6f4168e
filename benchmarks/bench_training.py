"""Time one training epoch and the test-split evaluation of a PGF-Net config, and report
the peak memory of the process.

Usage:
    .venv/bin/python benchmarks/bench_training.py [--config configs/default.json]
        [--threads 2] [--batches N] [--data FILE]

``--batches N`` times only the first N batches of the epoch and extrapolates to the
full epoch, and the printout marks the figure as extrapolated. The figures depend on the machine and on whatever
else runs on it; the script prints the CPU count and load average next to them.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/default.json"))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--batches", type=int, default=None,
                        help="time only this many training batches and extrapolate")
    parser.add_argument("--data", type=Path, default=None, help="built dataset file")
    args = parser.parse_args()

    from pgfnet.data.dataset import MosiTorchDataset, collate_examples
    from pgfnet.data.format import MosiData
    from pgfnet.model.config import PGFNetConfig
    from pgfnet.model.pgfnet import PGFNet
    from pgfnet.paths import default_dataset_path
    from pgfnet.training.evaluate import predict_split, token_lengths, tokenizer_for
    from pgfnet.training.trainer import build_optimizer, epoch_batches

    torch.set_num_threads(args.threads)
    config = PGFNetConfig.load(args.config)
    data = MosiData.load(args.data or default_dataset_path())
    tokenizer = tokenizer_for(config.backbone)

    start = time.perf_counter()
    torch.manual_seed(config.seed)
    model = PGFNet(config)
    load_seconds = time.perf_counter() - start
    optimizer = build_optimizer(model, config)

    dataset = MosiTorchDataset(data, "train")
    examples = [dataset[i] for i in range(len(dataset))]
    batches = epoch_batches(token_lengths([e.text for e in examples], tokenizer),
                            config.batch_size, config.seed, 0)
    timed = batches if args.batches is None else batches[: args.batches]

    model.train()
    start = time.perf_counter()
    for positions in timed:
        batch = collate_examples([examples[i] for i in positions], tokenizer, config.max_text_length)
        loss = torch.nn.functional.l1_loss(model.forward_batch(batch).prediction, batch.labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    train_seconds = time.perf_counter() - start
    epoch_seconds = train_seconds * len(batches) / len(timed)

    start = time.perf_counter()
    valid = predict_split(model, data, "valid", tokenizer)
    valid_seconds = time.perf_counter() - start
    start = time.perf_counter()
    test = predict_split(model, data, "test", tokenizer)
    test_seconds = time.perf_counter() - start

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_epoch = epoch_seconds + valid_seconds
    print(f"config: {args.config}  backbone: {config.backbone}  torch threads: {args.threads}  "
          f"CPUs: {os.cpu_count()}  load average: {os.getloadavg()[0]:.2f}")
    print(f"trainable parameters: {model.parameter_breakdown()['total_trainable']:,}")
    print(f"model load: {load_seconds:.1f} s")
    note = "" if args.batches is None else f" (extrapolated from {len(timed)} of {len(batches)} batches)"
    print(f"training epoch ({len(batches)} batches of {config.batch_size}): {epoch_seconds:.1f} s{note}")
    print(f"valid split evaluation ({len(valid.ids)} utterances): {valid_seconds:.1f} s")
    print(f"test split evaluation ({len(test.ids)} utterances): {test_seconds:.1f} s")
    print(f"one epoch with validation: {per_epoch:.1f} s; "
          f"{config.epochs} epochs at most: {config.epochs * per_epoch / 60:.1f} min "
          f"(+ {test_seconds + valid_seconds:.0f} s final evaluation)")
    print(f"peak resident memory: {peak_mib:.0f} MiB")
    if not math.isfinite(epoch_seconds):
        raise SystemExit("timing failed")


if __name__ == "__main__":
    main()
