"""The corpus generator (bench/corpus): realistic, deterministic, and read by snake-pipe."""

import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import corpus
from bench.corpus import (
    BAD_VARIANTS,
    KINDS,
    bad_document,
    deep_go_document,
    document,
    generate,
    main,
)
from snake_pipe_core.analysis import AnalysisSettings, Analyzer, WorkItem
from snake_pipe_core.config import DiscoverySettings
from snake_pipe_core.ingest.discovery import Rules
from snake_pipe_core.languages import language_from_name
from snake_pipe_core.models import FileVerdict
from tests.conftest import SHARED_SAMPLES

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(AnalysisSettings())


def analyze(analyzer: Analyzer, data: bytes, name: str) -> FileVerdict:
    return analyzer.analyze_bytes(data, path=name, size=len(data), mtime_ns=0, digest="x")


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    knobs: dict[str, Any] = dict(files=40, bad_share=0.25, duplicate_share=0.1, max_file_mb=0.5)
    generate(tmp_path / "a", seed=3, **knobs)
    corpus._POOLS.clear()  # the Clang header pool is rebuilt identically
    generate(tmp_path / "b", seed=3, **knobs)
    generate(tmp_path / "c", seed=4, **knobs)
    a, b, c = files_of(tmp_path / "a"), files_of(tmp_path / "b"), files_of(tmp_path / "c")
    assert a == b
    assert a != c
    assert document("cpp-clang", 30_000, seed=5) == document("cpp-clang", 30_000, seed=5)


def test_the_template_path_is_deterministic_and_unique(tmp_path: Path) -> None:
    generate(tmp_path / "a", files=60, seed=1, profile="small", duplicate_share=0)
    generate(tmp_path / "b", files=60, seed=1, profile="small", duplicate_share=0)
    a = files_of(tmp_path / "a")
    assert a == files_of(tmp_path / "b")
    assert len({hashlib.sha256(v).digest() for v in a.values()}) == len(a)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_extracted_with_its_format_and_language(
    analyzer: Analyzer, kind: str
) -> None:
    k = KINDS[kind]
    for seed in range(3):
        for target in (k.min_bytes * 3, 150_000):
            name = f"src/x/mod{k.extensions[0]}.ast.json"
            data = document(kind, target, seed=seed)
            v = analyze(analyzer, data, name)
            assert v.reason is None, f"{kind} seed {seed}: {v.reason} {v.detail}"
            m = v.metadata
            assert m is not None
            assert m.format == k.format
            assert (m.declared_language or language_from_name(name)) == k.language
            assert m.format_language in (None, k.language)
            if target == 150_000:
                assert m.function_count + m.class_count > 0
                assert kind == "ts-decl" or m.branch_count > 0


def test_documents_meet_their_size_targets() -> None:
    for kind, k in KINDS.items():
        for target in (max(4_000, 3 * k.min_bytes), 50_000, 400_000):
            size = len(document(kind, target, seed=11))
            assert 0.8 <= size / target <= 1.2, (kind, target, size)
    size = len(document("c-clang", 3_000_000, seed=2))
    assert 0.8 <= size / 3_000_000 <= 1.2


def test_the_deep_go_document_is_over_14000_levels(analyzer: Analyzer) -> None:
    data = deep_go_document(14_100)
    v = analyze(analyzer, data, "internal/tables/tables.go.ast.json")
    assert v.reason is None, v.detail
    assert v.metadata is not None
    assert v.metadata.format == "tree-sitter"
    assert v.metadata.declared_language == "go"
    assert v.metadata.max_depth > 14_000


@pytest.mark.parametrize("variant", sorted(BAD_VARIANTS))
def test_bad_documents_get_their_reason(analyzer: Analyzer, variant: str) -> None:
    v = analyze(analyzer, bad_document(variant), "src/bad/mod.py.ast.json")
    assert v.reason == BAD_VARIANTS[variant], v.detail


def test_a_repository_has_every_reason_it_promises(analyzer: Analyzer, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    stats = generate(root, files=40, seed=2, profile="small", bad_share=0.25, noise_share=0.2)
    assert set(stats.bad) == set(BAD_VARIANTS.values())
    rules = Rules(DiscoverySettings())
    reasons: Counter[str] = Counter()
    excluded = extracted = 0
    for rel in files_of(root):
        if rules.exclusion(rel.rsplit("/", 1)[-1], rel) is not None:
            excluded += 1
            continue
        v = analyzer.analyze_file(str(root), WorkItem(rel, 0))
        if v.reason is None:
            extracted += 1
        else:
            reasons[v.reason.value] += 1
    assert dict(reasons) == stats.bad
    assert excluded == stats.non_ast + stats.temp > 0
    assert extracted == stats.ast_files - sum(stats.bad.values())


def test_the_repository_mirrors_source_trees(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    stats = generate(root, files=120, seed=9, profile="small", duplicate_share=0.2)
    found = files_of(root)
    assert len(found) == stats.files == stats.ast_files
    assert sum(len(v) for v in found.values()) == stats.bytes
    languages = {k.language for k in KINDS.values()}
    for rel in found:
        assert rel.endswith(".ast.json")
        assert language_from_name(rel) in languages, rel
    assert max(rel.count("/") for rel in found) >= 3  # folders, not one flat directory
    twins = [rel for rel in found if rel.endswith(".d.cts.ast.json")]
    for rel in twins:
        assert found[rel] == found[rel.replace(".d.cts.", ".d.ts.")]
    seen: Counter[bytes] = Counter(hashlib.sha256(v).digest() for v in found.values())
    assert sum(n - 1 for n in seen.values()) == stats.duplicates > 0


RARE_FEATURES = [
    ("py-ast", rb"\\ud[89a-f][0-9a-f]{2}"),  # an escaped lone surrogate
    ("py-ast", rb'"__bytes__:'),
    ("py-ast", rb'"__float__:'),
    ("py-ast", rb'"__complex__:'),
    ("py-ast", rb'"__ellipsis__:\.\.\."'),
    ("go-sitter", rb'"type":"ERROR"'),
    ("rust-sitter", rb'"missing":true'),
    ("ts-estree", rb'"tokens":\['),
    ("js-babel", rb'"leadingComments":\['),
    ("js-babel", rb'"trailingComments":\['),
]


@pytest.mark.parametrize(("kind", "pattern"), RARE_FEATURES)
def test_real_world_oddities_appear_and_are_extracted(
    analyzer: Analyzer, kind: str, pattern: bytes
) -> None:
    rx = re.compile(pattern)
    k = KINDS[kind]
    for seed in range(400):
        data = document(kind, 8_000, seed=seed)
        if rx.search(data):
            v = analyze(analyzer, data, f"src/x/mod{k.extensions[0]}.ast.json")
            assert v.reason is None, v.detail
            return
    pytest.fail(f"no {kind} document in 400 has {pattern!r}")


def clang_with_loops() -> tuple[bytes, list[Any]]:
    """The first generated translation unit that has ``for`` loops, and its loops."""
    for seed in range(20):
        data = document("c-clang", 300_000, seed=seed)
        loops = []
        stack = [json.loads(data)]
        while stack:
            node = stack.pop()
            if node.get("kind") == "ForStmt":
                loops.append(node)
            stack.extend(n for n in node.get("inner", ()) if n)
        if loops:
            return data, loops
    raise AssertionError("no for loop in 20 translation units")


def test_clang_writes_null_children_as_empty_objects() -> None:
    _, loops = clang_with_loops()
    # init, condition variable (null: {}), condition, increment, body
    assert all(len(loop["inner"]) == 5 and loop["inner"][1] == {} for loop in loops)


def test_real_clang_loops_are_extracted(analyzer: Analyzer) -> None:
    """Clang's {} null children are part of the tree, not a schema problem."""
    data, _ = clang_with_loops()
    assert analyze(analyzer, data, "native/x.c.ast.json").reason is None


def test_small_profile_files_are_a_few_kb(tmp_path: Path) -> None:
    stats = generate(tmp_path / "repo", files=100, seed=4, profile="small", duplicate_share=0)
    for kind in stats.sizes:
        assert stats.percentiles(kind, (100,))[0] <= 12 * 1024, kind


def test_cli_writes_one_repository_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), "--files", "8", "--repos", "2", "--profile", "small"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["repo-000", "repo-001"]
    assert all("8 files" in line for line in lines)
    assert sorted(os.listdir(tmp_path)) == ["repo-000", "repo-001"]


# The shapes of the real tools' output (shared/samples), when the samples are there.

SAMPLE_KINDS = {
    "js-estree": ("js-estree",), "js-babel": ("js-babel",), "ts-estree": ("ts-estree", "ts-decl"),
    "c-clang": ("c-clang",), "py-stdlib": ("py-ast",), "ts-sitter/go": ("go-sitter",),
    "ts-sitter/rust": ("rust-sitter",), "ts-sitter/java": ("java-sitter",),
    "ts-sitter/python": ("py-sitter",),
}  # fmt: skip


def node_keys(doc: Any) -> dict[str, set[str]]:
    """Keys seen on nodes of each type, over a whole document."""
    out: dict[str, set[str]] = {}
    stack = [doc]
    while stack:
        obj = stack.pop()
        if isinstance(obj, dict):
            t = next(
                (obj[k] for k in ("type", "kind", "_type") if isinstance(obj.get(k), str)), None
            )
            if t is not None:
                out.setdefault(t, set()).update(obj)
            stack.extend(obj.values())
        elif isinstance(obj, list):
            stack.extend(obj)
    return out


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="shared samples not available")
@pytest.mark.parametrize("folder", sorted(SAMPLE_KINDS))
def test_shapes_match_the_shared_samples(folder: str) -> None:
    kinds = SAMPLE_KINDS[folder]
    samples = sorted((SHARED_SAMPLES / folder).rglob("*.ast.json"))
    assert samples
    real = [json.loads(p.read_bytes()) for p in samples]
    ours = [json.loads(document(kind, 30_000, seed=s)) for kind in kinds for s in range(6)]
    optional = {"tokens", "loc"}  # typescript-estree's tokens, acorn's locations are options
    real_keys = set.union(*(set(d) for d in real))
    for doc in ours:
        assert set(doc) - optional <= real_keys <= set(doc) | optional, (set(doc), real_keys)
    if "ast" in real[0]:
        for part in ("parser", "source"):
            assert {frozenset(d[part]) for d in ours} == {frozenset(d[part]) for d in real}
        assert {frozenset(d["ast"]) for d in ours} == {frozenset(d["ast"]) for d in real}
    # Node types both write carry the same fields (ours may leave optional ones out).
    real_nodes: dict[str, set[str]] = {}
    for doc in real:
        for t, keys in node_keys(doc).items():
            real_nodes.setdefault(t, set()).update(keys)
    # Real fields these few samples happen not to show: tree-sitter's field/text/missing
    # depend on the node's place, Babel attaches leading comments, clang marks used decls.
    extras = {"field", "text", "missing", "leadingComments", "trailingComments", "isUsed"}
    for doc in ours:
        doc.pop("tokens", None)  # tokens have a "type" but are not nodes
        for t, keys in node_keys(doc).items():
            if t in real_nodes and t != "RecordDecl":  # clang: the samples only reference it
                assert keys <= real_nodes[t] | extras, (t, keys - real_nodes[t])
    if folder == "c-clang":
        text = document("c-clang", 30_000).decode()
        assert text.startswith('{\n  "id": "0x') and '\n  "inner": [\n    {\n' in text
