"""The native scanner on the shapes real parsers write and on the traps of the format, each
checked against the pure-Python reference (same verdict, same metadata)."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import orjson
import pytest

from snake_pipe_core.analysis import AnalysisSettings, Analyzer
from snake_pipe_core.analysis.native import native_status
from snake_pipe_core.formats import AstFormat, FormatRegistry
from snake_pipe_core.models import FileVerdict
from tests.conftest import ROOT
from tests.core.analysis.conftest import Compare, analyzers, compare_paths, needs_native
from tests.fixtures import asts

pytestmark = [pytest.mark.unit, needs_native]
OK, REJECT, UNSURE = 0, 1, 2


def dumps(doc: Any, **kw: Any) -> bytes:
    return json.dumps(doc, **kw).encode()


@pytest.mark.parametrize(
    "doc",
    [
        asts.estree(3),
        asts.ts_estree(),
        asts.babel(),
        asts.clang(),
        asts.python_envelope(),
        asts.tree_sitter("go", depth=6),
        asts.tree_sitter("rust", depth=2),
        {"kind": "Module", "items": [{"kind": "Item", "x": {"kind": "Sub"}}]},
        {"nodeType": "Root", "kids": [{"nodeType": "Leaf"}]},
    ],
)
@pytest.mark.parametrize("indent", [None, 2])
def test_fixtures_are_measured_natively(compare: Compare, doc: Any, indent: int | None) -> None:
    raw, verdict = compare(dumps(doc, indent=indent))
    assert raw[0] == OK
    assert verdict.metadata is not None


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ('{"type":"Program","body":[{"type":"Literal","value":"\\ud800"}]}', OK),  # lone surrogate
        ('{"type":"Program","body":[],"x":NaN,"y":[Infinity,-Infinity]}', OK),
        ('{"type":"Program","body":[],"n":1e999}', OK),  # Python reads inf
        ('{"type":"Program","body":[{"type":"\\u0041"},{"type":"A"}]}', OK),  # one type, twice
        ('{"type":"Program","body":[{"type":"\\ud83d\\ude00"}]}', OK),  # one code point
        ('{"type":"Program","body":[{"type":"\\ud800"}]}', OK),  # orjson cannot write it: both
        # paths give analysis_error
        ('{"type":"Program","body":[],"type":"Program"}', UNSURE),  # duplicate key
        ('{"t\\u0079pe":"Program","body":[]}', UNSURE),  # an escaped key
        ('{"body":[{"type":"X"}],"type":"Program"}', UNSURE),  # type after the children
        ('{"body":[],"type":"Program"}', OK),  # ... harmless when nothing came before
        ('{"type":"Program","body":{}}', REJECT),  # schema: body must be a list
        ('{"type":"File","program":{"type":"Nope","body":[]}}', REJECT),
        ('{"type":"File","program":{"type":"Program","body":[]}}', OK),
        ('{"a": 1}', REJECT),  # unknown_format
        ("[1, 2]", REJECT),  # not_object
        ('"x"', REJECT),
        ('{"type":"Program","body":[1,]}', REJECT),
        ('{"type":"Program","body":[]} x', REJECT),
        ('{"type":"Program","body":["\t"]}', REJECT),  # a raw control character
        ('{"type":"Program","body":["\\x"]}', REJECT),
        ('{"type":"Program","body":[01]}', REJECT),
        ('{"type":"Program","body":[-]}', REJECT),
        ('{"type":"Program","body":[1.]}', REJECT),
        ('{"type":"Program","body":[tru]}', REJECT),
        ('{"type":"Program","body":[-NaN]}', REJECT),
        ('{"type":"Program","body":["' + "1" * 5000 + '"]}', OK),
        ('{"type":"Program","body":[' + "1" * 5000 + "]}", UNSURE),  # Python refuses the int
        ("\ufeff".encode().decode("latin-1") + '{"a":1}', REJECT),
    ],
)
def test_edge_cases(compare: Compare, text: str, status: int) -> None:
    data = text.encode("latin-1") if text.startswith("\xef") else text.encode()
    raw, _ = compare(data)
    assert raw[0] == status, raw


@pytest.mark.parametrize(
    "types",
    [
        ["A", "\\u0041", "a", "B", "_", "Z"],  # merged, then sorted as orjson sorts (bytes)
        ['\\"q\\"', "back\\\\slash", "sl/ash", "\\/"],
        ["\\u0001", "\\u001f", "\\b\\t\\n\\f\\r", "\\u007f", "\\u0000"],  # control chars
        ["é", "\\u00e9", "日本", "😀", "\\ud83d\\ude00", "zz"],  # non-ASCII, raw and escaped
        ["\\ud800"],  # a lone surrogate: orjson cannot write it (analysis_error on both paths)
        [],
    ],
)
def test_the_histogram_is_written_and_counted_as_the_reference_does(types: list[str]) -> None:
    """The node-type histogram as JSON, the node count and the counts come from the scanner
    itself: byte for byte what ``orjson.dumps(..., OPT_SORT_KEYS)`` writes of the reference's
    histogram, whatever the names hold."""
    native, reference = analyzers()
    calls = [f'{{"type":"CallExpression","callee":{{"type":"{t}"}}}}' for t in types]
    block = ",".join([*calls, '{"type":"IfStatement"}'])
    data = (
        '{"type":"Program","body":[{"type":"FunctionDeclaration","body":{"type":"BlockStatement",'
        f'"body":[{block}]}}}},{{"type":"ClassDeclaration"}}]}}'
    ).encode()
    raw, verdict = compare_paths(native, reference, data)
    assert raw[0] == OK
    hist = raw[4]
    assert raw[9] == sum(hist.values())
    assert raw[10] == (1, 1, 0, 1)  # functions, classes, imports, branches (ESTree: no adjustment)
    if "\\ud800" in types:
        assert raw[11] is None  # left to orjson, which refuses it on both paths
        assert verdict.reason is not None and verdict.reason.value == "analysis_error"
        return
    assert raw[11] == orjson.dumps(hist, option=orjson.OPT_SORT_KEYS)
    assert verdict.metadata is not None
    assert verdict.metadata.node_types == raw[11]
    assert (verdict.metadata.function_count, verdict.metadata.class_count) == (1, 1)
    assert verdict.metadata.branch_count == 1


def test_node_type_names_kept_from_one_document_to_the_next_stay_right() -> None:
    """The plan keeps the str of each node type it has seen (up to 2,048 names of at most 256
    bytes): names seen again, escaped and raw spellings of one name, names past the table's
    room and longer ones all count as the reference counts them, document after document."""
    native, reference = analyzers()
    long_name = "L" * 300

    def program(types: list[str]) -> bytes:
        body = ",".join(f'{{"type":"{t}"}}' for t in types)
        return f'{{"type":"Program","body":[{body}]}}'.encode()

    docs = [program([f"T{i}", f"T{i + 1}", "T0", "\\u0041", "A", long_name]) for i in range(3000)]
    docs += [program([f"T{i}" for i in range(0, 3000, 7)]), program(["\\u0041", long_name])]
    for data in docs:
        raw, verdict = compare_paths(native, reference, data)
        assert raw[0] == OK and verdict.metadata is not None
    assert native.native is not None
    hist = native.native.scan(program(["T5", "A", "\\u0041", "T2999"]))[4]
    assert hist == {"Program": 1, "T5": 1, "A": 2, "T2999": 1}


def test_a_utf8_bom_is_skipped(compare: Compare) -> None:
    raw, _ = compare(b'\xef\xbb\xbf{"type":"Program","body":[]}')
    assert raw[0] == OK


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" \n\t\x0b\x0c",
        b"\xef\xbb\xbf",
        b"\xef\xbb\xbf  ",
        b"\xff\xfe{\x00}\x00",
        b"\x00\x00\xfe\xff",
        b'{"type":"Program","body":["caf\xe9"]}',
        b'{"type":"Program","body":["\xed\xa0\x80"]}',  # a UTF-8 encoded surrogate
        b'{"type":"Program","body":["\xf4\x90\x80\x80"]}',  # above U+10FFFF
        b'{"type":"Program","body":["\xc0\xaf"]}',  # overlong
        b'{"type":"Program","body":[1,] \xff',  # invalid JSON, and invalid UTF-8 later
        b'{"type":"Program","body":[' + b"[" * 70_000 + b"\xff",
        b"\x0b{}",
    ],
)
def test_empty_encoding_and_order_of_problems(compare: Compare, data: bytes) -> None:
    raw, verdict = compare(data)
    assert raw[0] == REJECT
    assert verdict.reason is not None


@pytest.mark.parametrize("limit", [1024, 1500, 70_000])
def test_depth_limit_is_exact(limit: int) -> None:
    native, reference = analyzers(max_depth=limit)
    for depth in (limit - 1, limit, limit + 1):
        data = b'{"kind":"R","inner":[' + b"[" * (depth - 2) + b"]" * (depth - 2) + b"]}"
        raw, verdict = compare_paths(native, reference, data)
        assert (raw[0], verdict.reason) == (
            (OK, None) if depth <= limit else (REJECT, verdict.reason)
        )
        if depth > limit:
            assert verdict.reason is not None and verdict.reason.value == "too_deep"


def test_a_depth_limit_below_orjsons_is_left_to_the_reference() -> None:
    native, reference = analyzers(max_depth=100)
    data = b"[" * 500 + b"]" * 500
    raw, _ = compare_paths(native, reference, data)
    assert raw[0] == UNSURE


@pytest.mark.parametrize("limit", [1, 100, 600, 1023])
def test_a_depth_limit_below_orjsons_is_enforced_on_both_paths(limit: int) -> None:
    """Issue 10 #6: with max_depth = 600 a 1,000-deep file was extracted (orjson parses up to
    1,024 levels whatever the bound). Both paths now give the same exact verdicts."""
    native, reference = analyzers(max_depth=limit)
    for depth in sorted({max(limit - 1, 1), limit, limit + 1, 1000}):
        inner = b"[" * max(depth - 2, 0) + b"]" * max(depth - 2, 0)
        data = b'{"kind":"R","inner":[' + inner + b"]}" if depth >= 2 else b'{"kind":"R"}'
        _, verdict = compare_paths(native, reference, data)
        if depth <= limit:
            assert verdict.reason is None, (depth, verdict.detail)
        else:
            assert verdict.reason is not None and verdict.reason.value == "too_deep", depth


def test_a_deep_tree_sitter_chain_counts_every_level(compare: Compare) -> None:
    raw, verdict = compare(asts.deep_tree_sitter_text(20_000).encode(), "d.go.json")
    assert raw[0] == OK
    assert verdict.metadata is not None and verdict.metadata.max_depth == 20_002


def test_clang_implicit_declarations_and_short_circuits(compare: Compare) -> None:
    def op(code: str, implicit: Any = None) -> dict[str, Any]:
        node: dict[str, Any] = {"id": "0x9", "kind": "BinaryOperator", "opcode": code}
        if implicit is not None:
            node["isImplicit"] = implicit
        return node

    ops = [op("&&"), op("||", True), op("+"), op("&&", False)]
    implicit = {"kind": "CXXRecordDecl", "isImplicit": True, "id": "0x3"}
    fn = {"id": "0x4", "kind": "CXXMethodDecl", "isImplicit": "yes", "inner": [*ops, {}]}
    # keys after "inner" and a kind that is not the first key
    late = {"inner": [{"id": "0x6", "kind": "FunctionDecl"}], "isImplicit": True, "id": "0x5",
            "kind": "FunctionDecl"}  # fmt: skip
    cls = {"id": "0x2", "kind": "CXXRecordDecl", "inner": [implicit, fn, late]}
    doc = {"id": "0x1", "kind": "TranslationUnitDecl", "inner": [cls]}
    for indent in (None, 2):
        raw, verdict = compare(dumps(doc, indent=indent), "x.cpp.ast.json")
        assert raw[0] == OK
        m = verdict.metadata
        assert m is not None
        assert (m.class_count, m.function_count, m.branch_count) == (1, 1, 3)


@pytest.mark.parametrize(
    "ast",
    [
        {"type": "m", "children": [{"type": "x", "children": {}}]},  # {} is falsy: no children
        {"type": "m", "children": [{"type": "x", "children": None}]},
        {"type": "m", "children": [{"type": "x", "children": {"a": 1}}]},  # schema
        {"type": "m", "children": [{"type": "x", "children": "abc"}]},  # schema
        {"type": "m", "children": [3]},  # schema
        {"type": "m", "children": [{}]},  # schema: no null children outside Clang
        {"type": "m", "children": [{"type": 5}]},
        {"type": "m", "children": [[{"type": "x"}]]},
        {"type": "m", "start_point": [0, 0], "end_point": [3, 1], "children": []},
        {"type": "m", "start_point": [0.0], "end_point": [3], "children": []},
        {"type": "m", "start_point": ["1"], "end_point": [3], "children": []},
        {"type": "m", "start_point": [], "end_point": [3], "children": []},
        {"type": "m", "start_point": [None], "end_point": [3], "children": []},
    ],
)
def test_tree_sitter_shapes(compare: Compare, ast: dict[str, Any]) -> None:
    doc = {"language": "go", "parser": {"name": "tree-sitter", "version": "0.26"}, "ast": ast}
    compare(dumps(doc), "x.go.ast.json")


@pytest.mark.parametrize(
    "envelope",
    [
        {"language": "Python3", "parser": {"name": "cpython-ast", "version": None}},
        {"language": None, "parser": None, "source": None},
        {"parser": {"name": "p", "grammar": 5}},  # schema (pydantic)
        {"parser": {"version": "1"}, "language": "go"},  # name is required
        {"parser": {"name": 3}},
        {"language": 3},
        {"language": "py", "source": {"path": "a/b.py", "size": 12, "sha256": "ab"}},
        {"source": {"size": 1.5}},
        {"source": {"size": "12"}},
        {"source": {"path": "\ud800"}},
        {"language": "py", "extra": {"any": ["thing"]}},
        {"language": "c\u00e9"},
    ],
)
@pytest.mark.parametrize("ast_first", [False, True])
def test_envelopes(compare: Compare, envelope: dict[str, Any], ast_first: bool) -> None:
    tree = {"_type": "Module", "body": [{"_type": "Pass", "lineno": 3, "end_lineno": 4}]}
    doc = {"ast": tree, **envelope} if ast_first else {**envelope, "ast": tree}
    compare(dumps(doc), "m.py.ast.json")


@pytest.mark.parametrize(
    "body",
    [
        [],
        [{"_type": "Pass", "lineno": 1, "end_lineno": 2}, 5],
        [5, {"_type": "Pass"}],
        [{"_type": "Pass", "lineno": "1"}],
        [{"_type": "Pass", "lineno": 1, "end_lineno": 2.5}],
        [{"_type": "A", "lineno": 1}, {"_type": "B", "end_lineno": 9}],
        [{"_type": "A", "lineno": 1}, [{"_type": "B", "end_lineno": 9}]],
        # what a span must not become (found by the fuzz test: the Python path kept a list)
        [{"_type": "Pass", "lineno": [], "end_lineno": {"a": 1}}],
        [{"_type": "Pass", "lineno": True, "end_lineno": 2**70}],
        [{"_type": "Pass", "lineno": 3.0, "end_lineno": -1}],
    ],
)
def test_python_spans(compare: Compare, body: list[Any]) -> None:
    _, verdict = compare(dumps({"language": "python", "ast": {"_type": "Module", "body": body}}))
    assert_lines(verdict)


def assert_lines(verdict: FileVerdict) -> None:
    """A span is a 32-bit integer (the store's column) or nothing, whatever the tree holds."""
    if verdict.metadata is not None:
        for line in (verdict.metadata.span_start_line, verdict.metadata.span_end_line):
            assert line is None or (type(line) is int and -(2**31) <= line < 2**31), line


@pytest.mark.parametrize(
    "loc",
    [
        {"start": {"line": 1}, "end": {"line": 9}},
        {"start": {"line": 1}},
        {"start": {"line": True}, "end": {"line": 2}},
        {"end": {"column": 3, "line": 7}, "start": {"column": 0, "line": 2}},
        [1, 2],
        None,
        {"start": {"line": [1]}, "end": {"line": {"n": 2}}},
        {"start": {"line": 1.5}, "end": {"line": 2**64}},
        {"start": {"line": 2**31 - 1}, "end": {"line": 2**31}},
        {"start": {"line": -(2**31)}, "end": {"line": -(2**31) - 1}},
        {"start": {"line": 5_000_000_000}, "end": {"line": 2**62}},
    ],
)
def test_estree_spans(compare: Compare, loc: Any) -> None:
    doc = {"type": "Program", "loc": loc, "body": [{"type": "X", "loc": loc}]}
    _, verdict = compare(dumps(doc))
    assert_lines(verdict)


def test_configured_generic_formats(compare: Compare) -> None:
    spec = {"name": "mytool", "type_key": "nodeType", "children_key": "kids",
            "root_types": ["Root"], "function_types": ["Fn"]}  # fmt: skip
    native, reference = analyzers(generic_formats=(spec,))
    for doc in (
        {"nodeType": "Root", "kids": [{"nodeType": "Fn", "kids": []}, {"nodeType": "Leaf"}]},
        {"nodeType": "Other", "kids": [{"nodeType": "Fn"}]},  # not a root type: catch-all
        {"nodeType": "Root", "kids": [{"kind": "Fn"}]},  # schema
    ):
        raw, _ = compare_paths(native, reference, dumps(doc))
        assert raw[0] in (OK, REJECT)


def test_plugin_formats_keep_the_python_path() -> None:
    class Everything(AstFormat):
        name = "everything"
        priority = 100

        def matches(self, root: dict[str, Any]) -> bool:
            return True

    native, reference = analyzers()
    registry = FormatRegistry([Everything(), *native.registry.formats])
    native.registry = reference.registry = registry
    from snake_pipe_core.analysis.native import NativeScanner

    native.native = NativeScanner.for_registry(registry, 65_536)
    raw, verdict = compare_paths(native, reference, dumps(asts.estree(1)))
    assert raw[0] == UNSURE
    assert verdict.format == "everything"


def test_the_scanner_is_built_where_a_compiler_is() -> None:
    """From a clean clone with a C compiler, `pip install -e .` builds the fast path."""
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        pytest.skip("no Python headers here")
    assert native_status() == "native"


@pytest.mark.parametrize("setting", ["off", "/nonexistent/_scanner.so"])
def test_without_the_scanner_the_python_path_runs_with_one_notice(setting: str) -> None:
    code = (
        "import logging; logging.basicConfig(level=logging.INFO, format='%(message)s');"
        "from snake_pipe_core.analysis import AnalysisSettings, Analyzer;"
        "a = Analyzer(AnalysisSettings()); b = Analyzer(AnalysisSettings());"
        'v = a.analyze_bytes(b\'{"type": "Program", "body": []}\', path=\'x.js\', size=1,'
        " mtime_ns=0, digest='d'); print(a.native, v.metadata.node_count)"
    )
    env = {**os.environ, "SNAKE_PIPE_SCANNER": setting}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["None", "1"]
    notices = [line for line in out.stderr.splitlines() if "pure-Python path" in line]
    if setting == "off":
        assert notices == []  # asked for: no notice
    else:
        assert len(notices) == 1 and "pip install -e ." in notices[0]


def test_settings_can_turn_the_native_path_off() -> None:
    assert Analyzer(AnalysisSettings(native=False)).native is None
    assert Analyzer(AnalysisSettings()).native is not None
