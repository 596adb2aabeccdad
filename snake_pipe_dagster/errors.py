"""The one translation of the engine's errors into Dagster's.

The engine marks each of its errors terminal or transient (``SnakePipeError.transient``):

- a **terminal** error (an invalid configuration, a vanished root, a refused mass delete, a
  damaged store) becomes ``dg.Failure(...) from e`` with ``allow_retries=False``: retrying
  cannot help, and the run page shows the engine's message;
- a **transient** one (the catalog stayed busy, another run of the repository held its turn)
  is raised as it is, and ``ENGINE_RETRY_POLICY`` on the asset, check or op retries the step
  (a sensor tick has no retries: the next tick is its retry).

Every asset, check, op and sensor of this package goes through :func:`engine_errors`.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from snake_pipe_core import MassDeletionRefused, SnakePipeError

__all__ = ["ENGINE_RETRY_POLICY", "engine_errors", "to_failure"]

ENGINE_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

_HINTS: Mapping[type[SnakePipeError], str] = {
    MassDeletionRefused: " Launch again with run config `allow_mass_delete: true` if the files "
    "really are gone.",
}


def to_failure(e: SnakePipeError, metadata: Mapping[str, Any] | None = None) -> dg.Failure:
    """A terminal engine error as a ``dg.Failure`` that no retry policy retries."""
    hint = next((h for cls, h in _HINTS.items() if isinstance(e, cls)), "")
    return dg.Failure(
        description=f"{e}{hint}",
        metadata={**(metadata or {}), "error": type(e).__name__},
        allow_retries=False,
    )


@contextmanager
def engine_errors(**metadata: Any) -> Iterator[None]:
    """Run engine code: terminal errors fail with the engine's message, transient ones are
    left to ``ENGINE_RETRY_POLICY``."""
    try:
        yield
    except SnakePipeError as e:
        if e.transient:
            raise
        raise to_failure(e, metadata) from e
