"""Benchmarks and corpus generators for snake-pipe: figures are printed, not asserted.

``bench.corpus`` writes realistic repositories of AST JSON (``python -m bench.corpus --help``).
"""

__all__: list[str] = []
