"""``python -m snake_pipe_core.cli``."""

import sys

from . import main

sys.exit(main())
