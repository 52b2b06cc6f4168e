"""Time the MOSI build, loading, and one pass of collated batches; print the figures.

Usage: ``.venv/bin/python benchmarks/bench_data.py [--source DIR] [--repeats N]``.
The build target is a temporary file, so the cached dataset is left alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from pgfnet.paths import default_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None,
                        help="raw MOSI folder (default: $PGFNET_MOSI_SOURCE or ../shared/data/mosi)")
    parser.add_argument("--repeats", type=int, default=3, help="builds to time (default 3)")
    args = parser.parse_args()
    source = args.source or default_source()
    if source is None:
        parser.error("no MOSI source folder: pass --source or set PGFNET_MOSI_SOURCE")

    from torch.utils.data import DataLoader

    from pgfnet.backbones import load_tokenizer
    from pgfnet.data.dataset import MosiTorchDataset, make_collate
    from pgfnet.data.format import MosiData
    from pgfnet.data.mosi import build_mosi

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bench.pgfdata"
        build_seconds = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            data = build_mosi(source, out)
            build_seconds.append(time.perf_counter() - began)

        began = time.perf_counter()
        data = MosiData.load(out)
        load_seconds = time.perf_counter() - began
        size_mb = out.stat().st_size / 1e6

    tokenizer = load_tokenizer("all-MiniLM-L6-v2")
    loader = DataLoader(MosiTorchDataset(data, "train"), batch_size=32,
                        collate_fn=make_collate(tokenizer, 64))
    began = time.perf_counter()
    batches = sum(1 for _ in loader)
    epoch_seconds = time.perf_counter() - began

    print(f"source: {source}")
    print(f"utterances: {len(data)}, file size: {size_mb:.1f} MB")
    print(f"build: median {statistics.median(build_seconds):.2f} s, "
          f"min {min(build_seconds):.2f} s over {len(build_seconds)} runs")
    print(f"load: {load_seconds:.3f} s")
    print(f"train split, batch 32, max_text_length 64: {batches} batches in {epoch_seconds:.2f} s")


if __name__ == "__main__":
    main()
