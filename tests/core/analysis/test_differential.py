"""The native scanner against the pure-Python reference, file by file: the corpus generator's
output (every kind, bad files, duplicates, the 14,000-level Go tree) and the real samples."""

from pathlib import Path

import pytest

from bench.corpus import BAD_VARIANTS, KINDS, bad_document, deep_go_document, document, generate
from tests.conftest import SHARED_SAMPLES
from tests.core.analysis.conftest import Compare, needs_native

pytestmark = [pytest.mark.unit, needs_native]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_measured_by_the_scanner_as_by_the_reference(
    compare: Compare, kind: str
) -> None:
    k = KINDS[kind]
    for seed in range(4):
        for target in (k.min_bytes * 2, 60_000, 400_000 if "clang" in kind else 120_000):
            raw, verdict = compare(
                document(kind, target, seed=seed), f"a/m{k.extensions[0]}.ast.json"
            )
            assert raw[0] == 0, (kind, seed, raw)  # the scanner itself decided
            assert verdict.metadata is not None


def test_the_deep_go_tree_is_measured_natively(compare: Compare) -> None:
    raw, verdict = compare(deep_go_document(14_200), "t/tables.go.ast.json")
    assert raw[0] == 0
    assert verdict.metadata is not None and verdict.metadata.max_depth > 14_000


@pytest.mark.parametrize("variant", sorted(BAD_VARIANTS))
def test_bad_files_get_the_reference_verdict(compare: Compare, variant: str) -> None:
    for seed in range(3):
        _, verdict = compare(bad_document(variant, seed=seed), "b/mod.py.ast.json")
        assert verdict.reason is not None and verdict.reason.value == BAD_VARIANTS[variant]


def test_a_generated_repository_file_by_file(compare: Compare, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    generate(root, files=150, seed=7, profile="realistic", bad_share=0.2, max_file_mb=2)
    decided = 0
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        raw, _ = compare(path.read_bytes(), path.name)
        decided += raw[0] != 2
    # "unsure" is for rare shapes (an envelope without its tree...), not the common case
    assert decided >= 0.95 * len(files)


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="../shared/samples is not here")
@pytest.mark.parametrize(
    "path", sorted(SHARED_SAMPLES.rglob("*.json")) if SHARED_SAMPLES.is_dir() else []
)
def test_real_parser_samples(compare: Compare, path: Path) -> None:
    raw, verdict = compare(path.read_bytes(), path.name)
    assert raw[0] == 0 and verdict.metadata is not None
