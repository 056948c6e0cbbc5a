"""The command line shared by the generators of committed files (`schemas/`, `events/sqs/`): write, or --check."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def generator_main(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    option: str,
    default: Path,
    option_help: str,
    stale: Callable[[Path], list[str]],
    write: Callable[[Path], list[str]],
    shown: Callable[[Path, str], Path],
    make_target: str,
) -> int:
    """Write the generated files, or with --check write nothing and exit 1 listing the stale ones."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(option, type=Path, default=default, help=option_help)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    directory: Path = getattr(args, option.lstrip("-"))
    if args.check:
        names = stale(directory)
        for name in names:
            print(f"stale: {shown(directory, name)}", file=sys.stderr)
        if names:
            print(f"run `{prog}` (or `make {make_target}`) and commit the result", file=sys.stderr)
        return 1 if names else 0
    for name in write(directory):
        print(f"wrote {shown(directory, name)}")
    return 0
