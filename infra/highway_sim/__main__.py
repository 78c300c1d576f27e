"""Command line: ``python -m highway_sim --port 8787 --speed 20 [--full-size] [--p-submit-429 0.2 ...]``.

Every SimConfig field is a flag (``--field-name``), generated from the dataclass so the
command line never falls behind the knobs.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .config import RANGE_FIELDS, SimConfig
from .server import SimulatorServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m highway_sim",
        description="Local simulator of the HighwayAPI KLING V1.6 image-to-video API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, 
                        help="port to bind; 0 picks a free one (default 8787)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log every request (method, path, status)")
    for f in dataclasses.fields(SimConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata.get('help', '')} (default {f.default})"
        if f.name == "api_keys":
            parser.add_argument("--api-key", dest="api_keys", action="append", metavar="KEY",
                                help="accept only this key; repeat for several (default: any non-empty key)")
        elif f.name in RANGE_FIELDS:
            parser.add_argument(flag, dest=f.name, type=float, nargs=2, metavar=("LOW", "HIGH"),
                                help=help_text)
        elif f.name == "full_size":
            parser.add_argument(flag, dest=f.name, action="store_true", default=None, help=f.metadata["help"])
        else:
            kind = int if f.name in ("seed", "rate_limit_per_minute", "video_url_ttl") else float
            parser.add_argument(flag, dest=f.name, type=kind, help=help_text)
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Flags given on the command line override the SimConfig defaults; the rest keep them."""
    names = {f.name for f in dataclasses.fields(SimConfig)}
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return SimConfig(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Ctrl-C and SIGTERM only set a flag: a KeyboardInterrupt raised at a random point
    # (inside start or stop) could leave threads behind.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with SimulatorServer(config, host=args.host, port=args.port) as sim:
        print(f"HighwayAPI simulator on {sim.url} (speed x{config.speed:g}); Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    print("simulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
