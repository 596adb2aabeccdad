"""Ingest: one run of one repository.

``discovery`` walks the tree and applies the include/exclude rules, ``workers`` runs the
analysis in a process pool, ``results`` turns verdicts into store rows, and ``run`` ties them
together: walk, diff with the manifest, analyse, commit in batches, account.

``run`` (and the store under it) loads on first use of its names: an analysis worker imports
``workers`` only, and so never loads DuckDB or Arrow.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Mode, Progress, ingest_repository

__all__ = ["Mode", "Progress", "ingest_repository"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".run", __name__), name)
    globals()[name] = value
    return value
