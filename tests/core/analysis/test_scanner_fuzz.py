"""Fuzzing the native scanner against the pure-Python reference.

Hypothesis writes AST-shaped JSON (every format's keys, envelopes, NaN, lone surrogates,
numbers of every size) and mutates real documents byte by byte (truncations, flipped bytes,
inserted brackets, broken escapes and UTF-8, huge numbers, deep nesting). Every input must get
the same verdict and metadata from both paths, and the scanner must neither crash nor hang.

CI runs this file a second time on a build of the scanner with AddressSanitizer (``.ci/run``);
``SNAKE_PIPE_FUZZ_EXAMPLES`` sets how many examples each test draws (default 150).
"""

import json
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.corpus import KINDS, deep_go_document, document
from snake_pipe_core.analysis import Analyzer
from tests.conftest import SHARED_SAMPLES
from tests.core.analysis.conftest import analyzers, compare_paths, needs_native
from tests.fixtures import asts

pytestmark = [pytest.mark.unit, needs_native]

EXAMPLES = int(os.environ.get("SNAKE_PIPE_FUZZ_EXAMPLES", "150"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PAIRS: dict[int, tuple[Analyzer, Analyzer]] = {}


def check(data: bytes, max_depth: int = 65_536) -> None:
    if max_depth not in PAIRS:
        PAIRS[max_depth] = analyzers(max_depth=max_depth)
    compare_paths(*PAIRS[max_depth], data, "src/mod.py.ast.json")


# --------------------------------------------------------------------------- generated JSON

KEYS = [
    "type", "kind", "_type", "nodeType", "node_type", "children", "inner", "body", "program",
    "id", "loc", "start", "end", "line", "lineno", "end_lineno", "start_point", "end_point",
    "isImplicit", "opcode", "language", "parser", "source", "ast", "name", "version", "path",
    "size", "value", "x",
]  # fmt: skip
TYPES = [
    "Program", "File", "TranslationUnitDecl", "Module", "FunctionDeclaration", "ClassDef",
    "BinaryOperator", "CXXRecordDecl", "CXXMethodDecl", "import_spec", "import_declaration",
    "TSInterfaceDeclaration", "source_file", "If", "&&", "||", "", "\ud800", "é",
]  # fmt: skip
scalars = st.one_of(
    st.sampled_from(TYPES),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=6),
    ),
    max_leaves=40,
)


@st.composite
def ast_documents(draw: st.DrawFn) -> bytes:
    """A tree in one of the formats' shapes, often inside an envelope, serialised as a real
    writer would (compact or indented, ASCII-escaped or not)."""
    type_key = draw(st.sampled_from(["type", "kind", "_type", "nodeType"]))
    children_key = draw(st.sampled_from(["children", "inner", "body", "kids"]))

    def node(depth: int) -> dict[str, Any]:
        n: dict[str, Any] = {type_key: draw(st.sampled_from(TYPES))}
        for key in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
            n[key] = draw(values)
        if depth and draw(st.booleans()):
            n[children_key] = [node(depth - 1) for _ in range(draw(st.integers(0, 3)))]
        if draw(st.integers(0, 9)) == 0:  # a key order writers seldom use
            n = dict(reversed(list(n.items())))
        return n

    root = node(draw(st.integers(0, 4)))
    if draw(st.booleans()):
        root = {
            "language": draw(st.one_of(st.sampled_from(["python", "go", "C++"]), values)),
            "parser": draw(st.one_of(st.fixed_dictionaries({"name": st.text(max_size=5)}), values)),
            "ast": root,
        }
    text = json.dumps(
        root,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 1, 2])),
        allow_nan=True,
    )
    return text.encode("utf-8", "surrogatepass")


@fuzz
@given(ast_documents())
def test_generated_ast_documents(data: bytes) -> None:
    check(data)


@fuzz
@given(values)
def test_generated_json_values(value: Any) -> None:
    check(json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- mutated files


def _seeds() -> list[bytes]:
    docs = [
        json.dumps(asts.estree(2)).encode(),
        json.dumps(asts.babel()).encode(),
        json.dumps(asts.clang(), indent=2).encode(),
        json.dumps(asts.python_envelope()).encode(),
        json.dumps(asts.tree_sitter("go", depth=4)).encode(),
        deep_go_document(1_500),
    ]
    docs += [document(kind, 3 * KINDS[kind].min_bytes, seed=3) for kind in sorted(KINDS)]
    if SHARED_SAMPLES.is_dir():
        docs += [p.read_bytes() for p in sorted(SHARED_SAMPLES.rglob("*.json"))[:12]]
    return [d for d in docs if len(d) <= 60_000]


SEEDS = _seeds()
NASTY = [
    b"\\", b'"', b"\\u", b"\\ud800", b"\\uDFFF", b"\\x", b"\xff", b"\xc3", b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80", b"\xe2\x82", b"[" * 1100, b"{\"a\":" * 1100, b"1e99999", b"-",
    b"9" * 400, b"9" * 4400, b"NaN", b"-Infinity", b",", b"}", b"]", b"{", b"[", b"\x00",
    b" ", b"\n", b'"type"', b'"kind":"X",', b'"inner":[{}],', b'"children":{},', b"null",
    b'"ast":', b'"type":"Program",', b"0.", b"01", b"true", b"tru",
]  # fmt: skip


SWAPS = [(b'"type"', b'"kind"'), (b'"kind"', b'"type"'), (b'"inner"', b'"children"'), (b":", b",")]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "repeat", "swap"]))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(NASTY))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        elif op == "swap":
            old, new = draw(st.sampled_from(SWAPS))
            data = bytearray(bytes(data).replace(old, new, draw(st.integers(1, 3))))
    return bytes(data)


@fuzz
@given(mutated())
def test_mutated_real_documents(data: bytes) -> None:
    check(data)


@fuzz
@given(mutated(), st.sampled_from([64, 1024, 1500]))
@example(b"[" * 1100, 1024)  # too deep, then cut short: too_deep on both paths (CI, ASan stage)
def test_mutated_documents_with_small_depth_limits(data: bytes, max_depth: int) -> None:
    check(data, max_depth)


@fuzz
@given(
    st.integers(1, 3000),
    st.sampled_from([b"[", b'{"a":', b'{"type":"X","children":[', b'{"kind":"K","inner":[']),
    st.sampled_from([b"", b"1", b"]", b"}", b"\xff", b'"\\ud800"']),
    st.booleans(),
)
def test_deep_nesting(depth: int, opener: bytes, middle: bytes, close: bool) -> None:
    closer = {b"[": b"]", b'{"a":': b"}"}.get(opener, b"]}")
    data = opener * depth + middle + (closer * depth if close else b"")
    check(data, 2048)


@pytest.mark.parametrize("exponent", [0, 1, 308, 309, 400, 5000])
def test_huge_numbers(exponent: int) -> None:
    for number in (f"1e{exponent}", f"-1.5E+{exponent}", "1" * (exponent + 1)):
        check(f'{{"type":"Program","body":[{{"type":"L","value":{number}}}]}}'.encode())
    assert math.isinf(float("1e400"))


def test_every_truncation_of_a_document() -> None:
    data = json.dumps(asts.python_envelope()).encode()
    for end in range(len(data) + 1):
        check(data[:end])


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="../shared/samples is not here")
def test_the_real_samples_are_among_the_seeds() -> None:
    assert sorted(SHARED_SAMPLES.rglob("*.json"))[0].read_bytes() in SEEDS
