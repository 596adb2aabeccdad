"""Both analysis paths side by side: the native scanner and the pure-Python reference."""

from collections.abc import Callable
from typing import Any

import pytest

from snake_pipe_core.analysis import AnalysisSettings, Analyzer
from snake_pipe_core.analysis.native import scanner_module
from snake_pipe_core.models import FileVerdict

needs_native = pytest.mark.skipif(
    scanner_module() is None, reason="the native scanner is not built here"
)

Compare = Callable[..., tuple[Any, FileVerdict]]


def analyzers(**settings: Any) -> tuple[Analyzer, Analyzer]:
    """(native, reference) analyzers with the same settings."""
    return Analyzer(AnalysisSettings(**settings)), Analyzer(
        AnalysisSettings(native=False, **settings)
    )


def compare_paths(native: Analyzer, reference: Analyzer, data: bytes, name: str = "x.json"
                  ) -> tuple[Any, FileVerdict]:  # fmt: skip
    """Analyse ``data`` both ways and require the same verdict; return the scanner's raw answer
    and the verdict. When the scanner rejects a file, its reason must be the reference's."""
    assert native.native is not None
    raw = native.native.scan(data)
    fast = native.analyze_bytes(data, path=name, size=len(data), mtime_ns=7, digest="d")
    ref = reference.analyze_bytes(data, path=name, size=len(data), mtime_ns=7, digest="d")
    assert fast == ref, (raw[:2], data[:200])
    if raw[0] == 0:
        # valid and measured; only writing a node type with a lone surrogate fails, in both
        assert ref.reason is None or ref.reason.value == "analysis_error"
    elif raw[0] == 1:
        assert ref.reason is not None and ref.reason.value == raw[1], (raw, ref.detail)
    return raw, ref


@pytest.fixture(scope="module")
def both() -> tuple[Analyzer, Analyzer]:
    return analyzers()


@pytest.fixture(scope="module")
def compare(both: tuple[Analyzer, Analyzer]) -> Compare:
    def run(data: bytes, name: str = "x.json") -> tuple[Any, FileVerdict]:
        return compare_paths(*both, data, name)

    return run
