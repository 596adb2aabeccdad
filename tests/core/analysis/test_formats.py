import json
from pathlib import Path
from typing import Any

import pytest

from snake_pipe_core.analysis import AnalysisSettings, Analyzer
from snake_pipe_core.formats import FormatRegistry, GenericFormat
from snake_pipe_core.formats.base import FormatProblem, walk_all_fields, walk_children
from snake_pipe_core.languages import language_from_name
from tests.conftest import SHARED_SAMPLES
from tests.fixtures import asts

pytestmark = pytest.mark.unit


def measure(doc: Any, name: str = "x.json", **settings: Any) -> Any:
    data = json.dumps(doc).encode()
    v = Analyzer(AnalysisSettings(**settings)).analyze_bytes(
        data, path=name, size=len(data), mtime_ns=0, digest="h"
    )
    assert v.reason is None, v.detail
    assert v.metadata is not None
    return v.metadata


def reference_counts(obj: Any, key: str) -> tuple[int, int]:
    """Recursive definition of node_count/max_depth for all-fields formats (small trees)."""
    if isinstance(obj, dict):
        is_node = isinstance(obj.get(key), str)
        counts = [reference_counts(v, key) for v in obj.values()]
    elif isinstance(obj, list):
        is_node = False
        counts = [reference_counts(v, key) for v in obj]
    else:
        return 0, 0
    return sum(c for c, _ in counts) + is_node, max((d for _, d in counts), default=0) + is_node


def reference_children(node: dict[str, Any], children: str) -> tuple[int, int]:
    counts = [reference_children(k, children) for k in node.get(children) or []]
    return 1 + sum(c for c, _ in counts), 1 + max((d for _, d in counts), default=0)


def test_estree_counts() -> None:
    m = measure(asts.estree(2), "a.js.ast.json")
    assert (m.format, m.format_language) == ("estree", "javascript")
    assert (m.node_count, m.max_depth) == reference_counts(asts.estree(2), "type")
    assert (m.function_count, m.class_count, m.import_count, m.branch_count) == (2, 0, 1, 2)
    assert (m.span_start_line, m.span_end_line) == (1, 9)


def test_typescript_estree_is_recognised_by_ts_nodes() -> None:
    m = measure(asts.ts_estree())
    assert (m.format, m.format_language) == ("estree", "typescript")


def test_babel_counts_comments_as_nodes_where_they_appear() -> None:
    doc = asts.babel()
    m = measure(doc)
    assert m.format == "babel"
    # the same comment object appears twice in the JSON (File.comments and leadingComments)
    assert (m.node_count, m.max_depth) == reference_counts(doc, "type")
    assert json.loads(m.node_types)["CommentLine"] == 2


def test_clang_walks_inner_only_and_skips_references() -> None:
    doc = asts.clang()
    m = measure(doc, "main.c.ast.json")
    assert m.format == "clang"
    assert (m.node_count, m.max_depth) == reference_children(doc, "inner")
    assert "RecordDecl" not in json.loads(m.node_types)  # `decl` is a reference, not a child
    # IfStmt + && operator
    assert (m.function_count, m.branch_count) == (1, 2)


def test_clang_implicit_class_self_reference_is_not_counted_twice() -> None:
    implicit = {"id": "0x3", "kind": "CXXRecordDecl", "isImplicit": True, "name": "A"}
    cls = {
        "id": "0x2",
        "kind": "CXXRecordDecl",
        "name": "A",
        "tagUsed": "class",
        "inner": [implicit],
    }
    m = measure({"id": "0x1", "kind": "TranslationUnitDecl", "inner": [cls]})
    assert (m.class_count, m.format_language) == (1, "cpp")


def test_python_envelope() -> None:
    doc = asts.python_envelope()
    m = measure(doc, "pkg/mod.py.ast.json")
    assert (m.format, m.declared_language) == ("python-ast", "python")
    assert (m.parser_name, m.parser_version, m.source_path) == (
        "cpython-ast",
        "3.11.7",
        "pkg/mod.py",
    )
    assert (m.node_count, m.max_depth) == reference_counts(doc["ast"], "_type")
    assert (m.function_count, m.class_count, m.import_count) == (1, 1, 1)


def test_tree_sitter_envelope() -> None:
    doc = asts.tree_sitter("go", depth=5)
    m = measure(doc, "cmd/main.go.ast.json")
    assert (m.format, m.declared_language, m.parser_name) == ("tree-sitter", "go", "tree-sitter")
    assert (m.node_count, m.max_depth) == reference_children(doc["ast"], "children")
    assert m.function_count == 1
    assert (m.span_start_line, m.span_end_line) == (1, 5)


def test_deep_tree_sitter_is_extracted_with_its_depth() -> None:
    data = asts.deep_tree_sitter_text(15_000).encode()
    v = Analyzer(AnalysisSettings()).analyze_bytes(data, path="d.go.json", size=len(data),
                                                   mtime_ns=0, digest="d")  # fmt: skip
    assert v.metadata is not None, v.detail
    # source_file → 15,000 binary_expression → identifier
    assert v.metadata.max_depth == 15_002
    assert v.metadata.node_count == 15_002


def test_walk_children_rejects_malformed_children() -> None:
    with pytest.raises(FormatProblem, match="must be a list"):
        walk_children({"type": "a", "children": {"type": "b"}}, "type", "children")
    with pytest.raises(FormatProblem, match="no 'type' key"):
        walk_children({"type": "a", "children": [{"x": 1}]}, "type", "children")
    with pytest.raises(FormatProblem, match="expected an object"):
        walk_children({"kind": "a", "inner": [3]}, "kind", "inner")


def test_walk_all_fields_looks_through_non_node_objects() -> None:
    doc = {"type": "A", "meta": {"x": [{"type": "B", "more": {"type": "C"}}]}}
    m = walk_all_fields(doc, "type")
    assert (m.types.total(), m.max_depth) == (3, 3)


def test_generic_format_from_configuration() -> None:
    doc = {"nodeType": "Root", "kids": [{"nodeType": "Fn", "kids": []}, {"nodeType": "Leaf"}]}
    spec = {"name": "mytool", "type_key": "nodeType", "children_key": "kids",
            "function_types": ["Fn"], "language": "kotlin"}  # fmt: skip
    m = measure(doc, "x.json", generic_formats=(spec,))
    assert (m.format, m.format_language, m.node_count, m.function_count) == (
        "mytool",
        "kotlin",
        3,
        1,
    )


def test_catch_all_generic_format_accepts_common_type_keys() -> None:
    m = measure({"kind": "Module", "items": [{"kind": "Item"}]})
    assert (m.format, m.node_count, m.max_depth) == ("generic", 2, 2)


def test_plugin_formats_are_discovered_through_entry_points() -> None:
    registry = FormatRegistry.default()
    assert {"estree", "babel", "clang", "python-ast", "tree-sitter", "generic"} <= set(
        registry.by_name
    )
    assert isinstance(registry.formats[-1], GenericFormat)  # the catch-all is tried last


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("pkg/util.py.ast.json", "python"),
        ("y.ts.json", "typescript"),
        ("types/x.d.ts.ast.json", "typescript"),
        ("libc/nl_types.h.c.ast.json", "c"),
        ("a/b.cpp.ast.json", "cpp"),
        ("cmd/main.go.ast.json", "go"),
        ("src/lib.rs.json", "rust"),
        ("A.java.ast.json", "java"),
        ("m.mjs.ast.json", "javascript"),
        ("noext.ast.json", None),
        ("x.unknownext.json", None),
    ],
)
def test_language_from_name(name: str, language: str | None) -> None:
    assert language_from_name(name) == language


SAMPLE_EXPECTED = {
    "js-estree": ("estree", "javascript"),
    "js-babel": ("babel", "javascript"),
    "ts-estree": ("estree", "typescript"),
    "c-clang": ("clang", "c"),
    "py-stdlib": ("python-ast", "python"),
    "ts-sitter": ("tree-sitter", None),
}


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="../shared/samples is not here")
@pytest.mark.parametrize(
    "path", sorted(SHARED_SAMPLES.rglob("*.json")) if SHARED_SAMPLES.is_dir() else []
)
def test_real_parser_samples(path: Path) -> None:
    folder = path.relative_to(SHARED_SAMPLES).parts[0]
    doc = json.loads(path.read_bytes())
    m = measure(doc, path.name)
    fmt, language = SAMPLE_EXPECTED[folder]
    assert m.format == fmt
    if language:
        assert (
            m.declared_language or language_from_name(path.name) or m.format_language
        ) == language
    tree = doc.get("ast", doc)
    if fmt in ("clang", "tree-sitter"):
        expected = reference_children(tree, "inner" if fmt == "clang" else "children")
    else:
        expected = reference_counts(tree, "_type" if fmt == "python-ast" else "type")
    assert (m.node_count, m.max_depth) == expected


def test_clang_null_children_are_counted_not_quarantined() -> None:
    """Clang writes ``{}`` for an absent child (a for loop's condition variable)."""
    loop = {
        "id": "0x3",
        "kind": "ForStmt",
        "inner": [
            {"id": "0x4", "kind": "DeclStmt"},
            {},
            {"id": "0x5", "kind": "BinaryOperator", "opcode": "<"},
            {"id": "0x6", "kind": "UnaryOperator"},
            {"id": "0x7", "kind": "CompoundStmt"},
        ],
    }
    func = {"id": "0x2", "kind": "FunctionDecl", "name": "f", "inner": [loop]}
    doc = {"id": "0x1", "kind": "TranslationUnitDecl", "inner": [func]}
    m = measure(doc, "loop.c.ast.json")
    assert (m.node_count, m.max_depth) == reference_children(doc, "inner") == (8, 4)
    assert json.loads(m.node_types)["<null>"] == 1
    assert (m.function_count, m.branch_count) == (1, 1)


def test_go_imports_count_packages_not_declarations() -> None:
    def spec(name: str) -> dict[str, Any]:
        path = {"type": "interpreted_string_literal", "text": f'"{name}"', "children": []}
        return {"type": "import_spec", "children": [path]}

    grouped = {"type": "import_spec_list", "children": [spec("os"), spec("io"), spec("fmt")]}
    doc = {
        "language": "go",
        "parser": {"name": "tree-sitter", "version": "0.26.1"},
        "ast": {
            "type": "source_file",
            "children": [
                {"type": "import_declaration", "children": [spec("strings")]},
                {"type": "import_declaration", "children": [grouped]},
            ],
        },
    }
    assert measure(doc, "x.go.ast.json").import_count == 4
    java = {"type": "program", "children": [{"type": "import_declaration", "children": []}] * 2}
    assert measure({"language": "java", "ast": java}, "X.java.ast.json").import_count == 2
