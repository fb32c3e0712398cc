"""The `mlsci-fast` command."""

from __future__ import annotations

import argparse
import sys

from . import __version__, show_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlsci-fast",
        description="Fast tools for the course 'Machine Learning in Sciences'.",
    )
    parser.add_argument("--version", action="version", version=f"mlsci-fast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="print how mlsci_fast was built and how many threads it will use")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        show_config()
        return 0
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
