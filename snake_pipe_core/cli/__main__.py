"""``python -m snake_pipe_core.cli``."""

from . import console

console()
