"""``python -m deconvkit ...``: the ``deconvkit`` command line (see :mod:`deconvkit.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
