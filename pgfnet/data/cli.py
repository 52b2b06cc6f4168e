"""`pgfnet data ...`: build, import and describe dataset files.

- ``pgfnet data build [--source DIR] [--out FILE]``: build from the raw MOSI folder.
- ``pgfnet data card FILE``: print the data card.
- ``pgfnet data import-mmsa PKL --out FILE [--vision-fps FPS]``: import an MMSA pickle.
- ``pgfnet data import-csd --labels CSD [--acoustic CSD] [--visual CSD]
  [--split-csv CSV] [--zero-neg-inf] --out FILE``: import CMU-MultimodalSDK computational sequences.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from pgfnet.paths import default_dataset_path, default_source

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add ``pgfnet data`` and its subcommands to the `pgfnet` parser."""
    data = subparsers.add_parser("data", help="build, import and describe dataset files")
    commands = data.add_subparsers(dest="data_command", required=True)

    build = commands.add_parser("build", help="build the MOSI dataset file from the raw folder")
    build.add_argument("--source", type=Path, default=None,
                       help="raw MOSI folder (default: $PGFNET_MOSI_SOURCE, else "
                            "../shared/data/mosi when it exists)")
    build.add_argument("--out", type=Path, default=None,
                       help="output file (default: ~/.cache/pgfnet/mosi.pgfdata or "
                            "$PGFNET_CACHE/mosi.pgfdata)")
    build.set_defaults(func=_build)

    card = commands.add_parser("card", help="print the data card of a dataset file")
    card.add_argument("file", type=Path, nargs="?", default=None,
                      help="dataset file (default: the built MOSI file in the cache)")
    card.set_defaults(func=_card)

    mmsa = commands.add_parser("import-mmsa",
                               help="import an MMSA pickle (aligned_50.pkl, unaligned_50.pkl)")
    mmsa.add_argument("pickle", type=Path, help="MMSA .pkl file")
    mmsa.add_argument("--out", type=Path, required=True, help="output dataset file")
    mmsa.add_argument("--vision-fps", type=float, default=30.0,
                      help="frame rate used to give visual frames times in seconds "
                           "(MMSA stores none; default 30)")
    mmsa.set_defaults(func=_import_mmsa)

    csd = commands.add_parser("import-csd",
                              help="import CMU-MultimodalSDK computational sequences (.csd)")
    csd.add_argument("--labels", type=Path, required=True,
                     help="label sequence, e.g. CMU_MOSI_Opinion_Labels.csd")
    csd.add_argument("--acoustic", type=Path, default=None,
                     help="acoustic sequence, e.g. CMU_MOSI_COVAREP.csd (optional)")
    csd.add_argument("--visual", type=Path, default=None,
                     help="visual sequence, e.g. CMU_MOSI_Visual_Facet_41.csd (optional)")
    csd.add_argument("--split-csv", type=Path, default=None,
                     help="MMSA-style label.csv with id and mode (train/dev/test) columns "
                          "and optional text (default: labels/mmsa_label.csv in the MOSI "
                          "source folder)")
    csd.add_argument("--zero-neg-inf", action="store_true",
                     help="replace -inf feature values with 0 (as MMSA does for COVAREP) "
                          "instead of rejecting them")
    csd.add_argument("--out", type=Path, required=True, help="output dataset file")
    csd.set_defaults(func=_import_csd)


def _build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pgfnet.data.mosi import build_mosi

    source = args.source or default_source()
    if source is None:
        raise FileNotFoundError("no MOSI source folder: pass --source DIR or set "
                                "PGFNET_MOSI_SOURCE (docs/DATA.md says where to get MOSI)")
    out = args.out or default_dataset_path()
    began = time.perf_counter()
    with tqdm(total=0, unit="utt", desc="build") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        data = build_mosi(source, out, progress=progress)
    print(f"built {len(data)} utterances into {out} in {time.perf_counter() - began:.1f} s")
    print(data.format_card())
    return 0


def _card(args: argparse.Namespace) -> int:
    from pgfnet.data.format import MosiData

    print(MosiData.load(args.file or default_dataset_path()).format_card())
    return 0


def _import_mmsa(args: argparse.Namespace) -> int:
    from pgfnet.data.importers import import_mmsa

    data, report = import_mmsa(args.pickle, args.out, vision_fps=args.vision_fps)
    print(f"imported {len(data)} utterances into {args.out}; replaced "
          f"{report['audio_neg_inf_replaced']} -inf audio values with 0")
    print(data.format_card())
    return 0


def _import_csd(args: argparse.Namespace) -> int:
    from pgfnet.data.importers import import_csd

    split_csv = args.split_csv
    if split_csv is None:
        source = default_source()
        if source is None or not (source / "labels" / "mmsa_label.csv").is_file():
            raise FileNotFoundError("no split file: pass --split-csv with an MMSA label.csv "
                                    "(columns id, mode and optionally text)")
        split_csv = source / "labels" / "mmsa_label.csv"
    data = import_csd(args.labels, args.out, acoustic=args.acoustic, visual=args.visual,
                      split_csv=split_csv, zero_neg_inf=args.zero_neg_inf)
    print(f"imported {len(data)} utterances into {args.out}")
    print(data.format_card())
    return 0
