"""``python -m deconvkit.compare [study.toml] [options]``: the same as ``deconvkit compare``."""

from __future__ import annotations

import argparse
import sys

from ._command import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deconvkit.compare")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
