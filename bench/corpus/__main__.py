"""``python -m bench.corpus``: see :func:`bench.corpus.cli.main`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
