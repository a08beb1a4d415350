from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.capacity")
    commands = parser.add_subparsers(dest="command", required=True)
    filling = commands.add_parser("fill", help="fill a new workspace to size (PostgreSQL)")
    filling.add_argument("--scale", type=int, default=100_000, help="runs in the big experiment")
    filling.add_argument("--workspace", help="its name (default: capacity-<scale>)")
    measuring = commands.add_parser("measure", help="time the filled workspaces over HTTP; print a table")
    measuring.add_argument(
        "--at",
        action="append",
        metavar="SCALE=DATABASE_URL",
        help="a scale and the database filled at it (repeat; default: 100000 and DATABASE_URL)",
    )
    measuring.add_argument("--port", type=int, default=8137)
    measuring.add_argument("--out", type=Path, help="also write the figures here, as JSON")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.command == "measure":
        from .measure import measure

        targets = [(int(scale), url) for scale, url in (at.split("=", 1) for at in args.at or [])]
        measure(targets or [(100_000, os.environ["DATABASE_URL"])], args.port, args.out)
        return

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()
    from .fill import fill

    fill(args.scale, args.workspace or f"capacity-{args.scale}")


if __name__ == "__main__":
    main()
