"""Ingest: one run of one repository.

``discovery`` walks the tree and applies the include/exclude rules, ``workers`` runs the
analysis in a process pool, ``results`` turns verdicts into store rows, and ``run`` ties them
together: walk, diff with the manifest, analyse, commit in batches, account.
"""

from .run import Mode, Progress, ingest_repository

__all__ = ["Mode", "Progress", "ingest_repository"]
