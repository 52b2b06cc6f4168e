"""Start the PGF-Net dashboard: check the inputs, build the dataset if needed, run Streamlit.

    python run_dashboard.py                      # http://127.0.0.1:8501
    python run_dashboard.py --port 8600 --checkpoint runs/my-run

The server listens on 127.0.0.1 unless ``--host`` sets another address, keeps
Streamlit's XSRF protection on and sends no usage statistics. When the dataset file is
missing but the raw MOSI folder is there, the dataset is built first (8 s on 2 cores)
with a progress bar. Anything still missing is shown in the app with the command that
fixes it.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import logging
import os
import socket
import sys
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
APP = REPO_ROOT / "dashboard" / "app.py"

logger = logging.getLogger("run_dashboard")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from pgfnet.paths import default_checkpoint, default_dataset_path, default_source

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: %(default)s, this machine only; "
                             "0.0.0.0 exposes the dashboard, which has no login, to the network)")
    parser.add_argument("--port", type=int, default=8501, help="TCP port (default: %(default)s)")
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint(),
                        help="checkpoint folder (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"built dataset file (default: {default_dataset_path()})")
    parser.add_argument("--source", type=Path, default=default_source(),
                        help="raw MOSI folder to build the dataset from (default: %(default)s)")
    parser.add_argument("--threads", type=int,
                        default=int(os.environ.get("PGFNET_TORCH_THREADS", "1")),
                        help="torch threads for model calls (default: %(default)s; one thread "
                             "was faster than two on a shared 2-core machine, see "
                             "docs/EXPLANATIONS.md)")
    parser.add_argument("--no-build", action="store_true",
                        help="never build the dataset; the app reports it as missing instead")
    args = parser.parse_args(argv)
    if args.data is None:
        args.data = default_dataset_path()
    if args.threads < 1:
        parser.error(f"invalid --threads {args.threads}: use 1 or more")
    if not 1 <= args.port <= 65535:
        parser.error(f"invalid --port {args.port}: use a TCP port between 1 and 65535")
    return args


def build_dataset(source: Path, out: Path) -> bool:
    """Build ``out`` from ``source`` with a progress bar; return False when it fails."""
    from tqdm import tqdm

    from pgfnet.data.mosi import build_mosi

    print(f"Building the MOSI dataset from {source} into {out} ...", flush=True)
    try:
        with tqdm(total=0, unit="utt", desc="build dataset") as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            build_mosi(source, out, progress=progress)
    except (OSError, ValueError, KeyError) as error:
        logger.error("building the dataset from %s failed: %s", source, error)
        return False
    return True


def port_is_free(host: str, port: int) -> bool:
    """Return True when ``host:port`` can be bound now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def streamlit_command(host: str, port: int) -> list[str]:
    """Return the argv of ``python -m streamlit run`` with the dashboard's server settings.

    :func:`main` passes ``command[3:]`` to Streamlit's command line in this process.
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.enableXsrfProtection", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]


# Imported in the background at start-up: torch alone takes seconds, and the first
# script run needs all of these.
PRELOAD_MODULES = ("torch", "pandas", "plotly.graph_objects", "pgfnet.data.format",
                   "pgfnet.explain.cache", "dashboard.backend", "dashboard.charts")


def preload_modules() -> None:
    for name in PRELOAD_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as error:
            logger.warning("preloading %s failed: %s", name, error)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)

    os.environ["PGFNET_CHECKPOINT"] = str(args.checkpoint.resolve())
    os.environ["PGFNET_DATASET"] = str(args.data.resolve())
    os.environ["PGFNET_TORCH_THREADS"] = str(args.threads)
    if args.source is not None:
        os.environ["PGFNET_MOSI_SOURCE"] = str(args.source.resolve())

    if not args.data.is_file() and not args.no_build:
        if args.source is not None and args.source.is_dir():
            build_dataset(args.source, args.data)
        else:
            logger.warning("dataset %s is missing and no MOSI source folder was found; "
                           "the app will show how to provide it", args.data)
    if not (args.checkpoint / "model.safetensors").is_file():
        logger.warning("checkpoint %s has no model.safetensors; the app will show how to "
                       "provide one", args.checkpoint)

    if not is_loopback(args.host):
        logger.warning("listening on %s: anyone who can reach this address can use the "
                       "dashboard, which has no login", args.host)
    if not port_is_free(args.host, args.port):
        print(f"error: port {args.port} on {args.host} is already in use; pass another "
              "with --port", file=sys.stderr)
        return 2

    command = streamlit_command(args.host, args.port)
    print(f"Starting the dashboard on http://{args.host}:{args.port}", flush=True)
    # Streamlit runs in this process (as `python -m streamlit` would), so the modules
    # that the first page needs can be imported while the server starts.
    threading.Thread(target=preload_modules, name="preload", daemon=True).start()
    from streamlit.web import cli as streamlit_cli

    return streamlit_cli.main(args=command[3:], prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())
