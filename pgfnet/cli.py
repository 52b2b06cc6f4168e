"""The ``pgfnet`` command: data, training, evaluation and explanation subcommands.

Each area registers its own subcommands (``register(subparsers)`` in
``pgfnet/data/cli.py``, ``pgfnet/training/cli.py`` and ``pgfnet/explain/cli.py``), so
this file only assembles them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every area's subcommands."""
    from pgfnet.data import cli as data_cli
    from pgfnet.explain import cli as explain_cli
    from pgfnet.training import cli as training_cli

    parser = argparse.ArgumentParser(prog="pgfnet", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    data_cli.register(subparsers)
    training_cli.register(subparsers)
    explain_cli.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`). Point stdout at /dev/null so
        # the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (ValueError, FileNotFoundError, KeyError) as error:
        # Input errors carry a message that names the value and the fix; a traceback
        # would bury it.
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"pgfnet {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
