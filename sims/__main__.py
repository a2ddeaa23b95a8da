"""``python -m sims``: the command line (:mod:`sims.harness.cli`)."""

import sys

from .harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
