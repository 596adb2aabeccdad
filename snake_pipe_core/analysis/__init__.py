"""One pass over a file: read, hash, parse, detect the format, validate and measure.

``analyzer`` turns files into verdicts; ``native`` is the fast path (a C scanner that
validates and measures without building Python objects); ``jsonload`` and the formats' walks
are the pure-Python path, the reference and the fallback.
"""

from .analyzer import AnalysisSettings, Analyzer, FileRead, WorkItem

__all__ = ["AnalysisSettings", "Analyzer", "FileRead", "WorkItem"]
