import json
import sys

import pytest

from snake_pipe_core.analysis.jsonload import JsonProblem, loads_iterative, parse_json
from snake_pipe_core.models import Reason
from tests.fixtures.asts import deep_tree_sitter_text

pytestmark = pytest.mark.unit
LIMIT = 65_536


def reason_of(data: bytes, max_depth: int = LIMIT) -> tuple[Reason, str]:
    with pytest.raises(JsonProblem) as info:
        parse_json(data, max_depth=max_depth)
    return info.value.reason, info.value.detail


def test_fast_path_parses_plain_json() -> None:
    assert parse_json(b'{"type": "Program", "body": []}', max_depth=LIMIT)["type"] == "Program"


def test_lone_surrogate_escapes_are_accepted_as_python_writes_them() -> None:
    data = json.dumps({"_type": "Constant", "value": "\ud800x"}).encode()
    assert b"\\ud800" in data
    assert parse_json(data, max_depth=LIMIT)["value"] == "\ud800x"


def test_utf8_bom_is_tolerated() -> None:
    assert parse_json(b'\xef\xbb\xbf{"a": 1}', max_depth=LIMIT) == {"a": 1}


def test_real_deep_nesting_is_parsed_without_recursion() -> None:
    doc = parse_json(deep_tree_sitter_text(15_000).encode(), max_depth=LIMIT)
    depth, node = 0, doc["ast"]
    while node["children"]:
        node = node["children"][0]
        depth += 1
    assert depth == 15_001


def test_hostile_nesting_is_too_deep() -> None:
    reason, detail = reason_of(b"[" * 100_000 + b"]" * 100_000)
    assert reason is Reason.TOO_DEEP
    assert str(LIMIT) in detail


def test_depth_limit_is_configurable() -> None:
    data = b'{"a":' * 2000 + b"1" + b"}" * 2000
    assert reason_of(data, max_depth=1500)[0] is Reason.TOO_DEEP
    assert parse_json(data, max_depth=2500) is not None


@pytest.mark.parametrize("limit", [1500, 4000, 70_000])
def test_depth_limit_is_exact(limit: int) -> None:
    """The fast deep path (C scanner in a big-stack thread) and the iterative parser agree on
    the boundary, level for level."""
    for depth in (limit - 1, limit):
        data = b'{"a":' * (depth - 1) + b"[1]" + b"}" * (depth - 1)
        assert parse_json(data, max_depth=limit) is not None, depth
    data = b"[" * (limit + 1) + b"]" * (limit + 1)
    assert reason_of(data, max_depth=limit)[0] is Reason.TOO_DEEP


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", Reason.EMPTY),
        (b"  \n\t ", Reason.EMPTY),
        (b'{"a": "\xe9"}', Reason.ENCODING),
        (b"\xff\xfe{\x00}\x00", Reason.ENCODING),
        (b'{"a": 1,}', Reason.INVALID_JSON),
        (b'{"type": "Program", "body": [', Reason.INVALID_JSON),
        (b'{"a": 1} {"b": 2}', Reason.INVALID_JSON),
    ],
)
def test_bad_input_reasons(data: bytes, reason: Reason) -> None:
    assert reason_of(data)[0] is reason


def test_invalid_json_detail_has_line_and_column() -> None:
    _, detail = reason_of(b'{\n  "type": "Program",\n  "body": [1 2]\n}')
    assert "line 3" in detail and "column" in detail


def test_deep_invalid_json_detail_has_line_and_column() -> None:
    data = b'{"a":' * 3000 + b"1" + b"}" * 2999  # one brace short, and too deep for orjson
    reason, detail = reason_of(data)
    assert reason is Reason.INVALID_JSON
    assert "line 1 column" in detail


def test_non_utf8_detail_names_the_byte_and_position() -> None:
    _, detail = reason_of(b'{\n"a": "caf\xe9"}')
    assert "0xe9" in detail and "line 2" in detail


@pytest.mark.parametrize(
    "text",
    [
        '{"a":[1,2.5,-3e2,true,false,null,"x\\n\\u00e9"],"b":{"c":[]},"d":{}}',
        "[]",
        '"s"',
        " 12 ",
        "[[[]],[{}],-0.0,1E+2]",
        '{"k": "\\ud800"}',
        "[NaN, Infinity, -Infinity, -1]",
    ],
)
def test_iterative_parser_agrees_with_json(text: str) -> None:
    assert repr(loads_iterative(text, max_depth=100)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["[1,]", "{'a':1}", "[1 2]", "tru", '{"a" 1}', "[", "01"])
def test_iterative_parser_rejects_what_json_rejects(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(JsonProblem) as info:
        loads_iterative(text, max_depth=100)
    assert info.value.reason is Reason.INVALID_JSON


def test_nan_and_infinity_are_accepted_at_any_depth() -> None:
    """Python's json writes them; shallow and deep documents get the same verdict."""
    for depth in (3, 3000):
        data = b"[" * depth + b"NaN, Infinity, -Infinity" + b"]" * depth
        assert parse_json(data, max_depth=LIMIT) is not None
    text = "[" * 3000 + "NaN" + "]" * 3000
    assert loads_iterative(text, max_depth=LIMIT) is not None


def test_a_bound_below_orjsons_own_is_enforced() -> None:
    """orjson and ``json`` accept ~1,000 levels; a configured bound below that still holds."""
    for limit in (2, 600):
        for depth, deep in ((limit, False), (limit + 1, True), (1000, True)):
            data = b"[" * depth + b"]" * depth
            if deep:
                assert reason_of(data, max_depth=limit)[0] is Reason.TOO_DEEP, (limit, depth)
            else:
                assert parse_json(data, max_depth=limit) is not None
    # the lone-surrogate fallback (Python's json) is bounded too
    data = b'{"a": "\\ud800", "b": ' + b"[" * 700 + b"]" * 700 + b"}"
    assert reason_of(data, max_depth=600)[0] is Reason.TOO_DEEP
    # brackets inside strings are no nesting
    assert parse_json(b'{"s": "' + b"[" * 900 + b'"}', max_depth=600) is not None


@pytest.mark.parametrize("recursion_limit", [None, 100_000])
@pytest.mark.parametrize("limit", [600, 1024])
def test_too_deep_and_truncated_reports_the_first_problem(
    limit: int, recursion_limit: int | None
) -> None:
    """A document nested past the bound and then cut short is ``too_deep``, the first problem
    in reading order (as the native scanner says), whatever recursion limit the interpreter
    runs with: ``json`` parses past a small bound when the limit allows it, as under
    Hypothesis, which raises it (found by CI's fuzz stage)."""
    old = sys.getrecursionlimit()
    if recursion_limit is not None:
        sys.setrecursionlimit(recursion_limit)
    try:
        assert reason_of(b"[" * (limit + 80), max_depth=limit)[0] is Reason.TOO_DEEP
        data = b'[{"a":' * (limit // 2 + 40) + b'"b[[['
        assert reason_of(data, max_depth=limit)[0] is Reason.TOO_DEEP
        # brackets in a string are no nesting, and a shallow cut stays invalid_json
        data = b'["' + b"[" * (limit + 80) + b'"'
        assert reason_of(data, max_depth=limit)[0] is Reason.INVALID_JSON
        assert reason_of(b"[" * (limit - 1), max_depth=limit)[0] is Reason.INVALID_JSON
    finally:
        sys.setrecursionlimit(old)
