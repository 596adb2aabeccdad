"""One document: a kind's AST at a target size, and the deep Go dump."""

import random

import orjson

from .clang import _ClangDoc
from .clang_headers import _pool
from .estree import _JsDoc
from .grow import _Doc, _grow, _sha
from .kinds import KINDS, KiB, Kind
from .names import _NOUNS, _Names, _source_stem
from .python_ast import _PyAstDoc
from .tree_sitter import _SitterDoc

__all__ = ["deep_go_document", "document"]


def _build(
    kind: Kind,
    rng: random.Random,
    target: int,
    source_path: str,
    *,
    pool_seed: int,
    null_children: bool,
) -> bytes:
    name = kind.name
    doc: _Doc
    if name == "js-estree":
        doc = _JsDoc(rng, "acorn", locations=rng.random() < 0.85, target=target)
    elif name == "js-babel":
        doc = _JsDoc(rng, "babel", target=target)
    elif name == "ts-estree":
        doc = _JsDoc(rng, "ts", tokens=rng.random() < 0.1, target=target)
    elif name == "ts-decl":
        doc = _JsDoc(rng, "ts", declarations=True, target=target)
    elif name == "py-ast":
        doc = _PyAstDoc(rng, source_path, surrogates=rng.random() < 0.03, target=target)
    elif kind.format == "clang":
        cxx = kind.language == "cpp"
        clang = _ClangDoc(
            rng,
            cxx=cxx,
            path=source_path,
            pool=_pool(pool_seed, cxx, null_children),
            null_children=null_children,
        )
        main_share = rng.uniform(0.2, 0.6)
        budget = target - clang.overhead() - max(6 * KiB, int(target * main_share))
        if budget > 0:
            clang.add_headers(budget)
        if cxx and not clang.r.extern and clang.namespace is None:
            clang.namespace = clang.program.names.var()  # no std header fitted
        doc = clang
    else:
        doc = _SitterDoc(rng, kind.language, source_path, errors=rng.random() < 0.04, target=target)
    return _grow(doc, target)


def document(
    kind: str,
    target_bytes: int,
    *,
    seed: int = 0,
    source_path: str | None = None,
    clang_null_children: bool = True,
) -> bytes:
    """One AST document of ``kind``, about ``target_bytes`` long (within a few percent).

    Args:
        kind: a name from :data:`KINDS`, e.g. ``"c-clang"``.
        target_bytes: the size to reach; below the kind's ``min_bytes`` the document is its
            smallest realistic form.
        seed: the same seed and arguments give the same bytes.
        source_path: the source file the document describes (envelopes and Clang record it).
        clang_null_children: write ``{}`` for the null children of ``for`` loops as clang
            does; False writes them out, for readers that cannot take real Clang output.

    Returns:
        The document's bytes, as the real tool writes them.
    """
    k = KINDS[kind]
    rng = random.Random(f"document:{kind}:{seed}:{target_bytes}")
    if source_path is None:
        snake = k.language not in ("javascript", "typescript", "java")
        stem = _source_stem(kind, rng, _Names(rng, snake=snake))
        source_path = f"src/{rng.choice(_NOUNS)}/{stem}{k.extensions[0]}"
    return _build(
        k, rng, target_bytes, source_path, pool_seed=seed, null_children=clang_null_children
    )


def deep_go_document(
    levels: int = 14_500, *, seed: int = 0, source_path: str = "internal/tables/tables.go"
) -> bytes:
    """A tree-sitter Go dump of one ``a + b + c …`` chain ``levels`` operators long.

    Generated tables concatenate thousands of operands: tree-sitter nests each operator in
    the previous one, so the tree is ``levels + 5`` nodes deep (JSON nesting twice that). The
    text is written directly, without recursion.
    """
    rng = random.Random(f"deep:{seed}:{levels}")
    c0 = 12  # `var table = ` precedes the first operand, on row 2
    ops = [
        rng.choice(("0x1f", "0x7", "42", "1024", "mask", "shift", "0b101"))
        for _ in range(levels + 1)
    ]

    def leaf(i: int, field: str) -> str:
        text = ops[i]
        kind = "identifier" if text.isalpha() else "int_literal"
        row, col = (2, c0) if i == 0 else (2 + i, 1)
        return (
            f'{{"type":"{kind}","field":"{field}","start_point":[{row},{col}],'
            f'"end_point":[{row},{col + len(text)}],"text":"{text}","children":[]}}'
        )

    last = f"[{2 + levels},{1 + len(ops[-1])}]"
    size = c0 + sum(len(t) + 3 for t in ops) + 40
    parts = [
        '{"language":"go","parser":{"name":"tree-sitter","version":"0.26.1",'
        '"grammar":"tree-sitter-go","grammar_version":"0.25.0"},'
        f'"source":{{"path":{orjson.dumps(source_path).decode()},"sha256":"{_sha(rng)}",'
        f'"size":{size}}},'
        f'"ast":{{"type":"source_file","start_point":[0,0],"end_point":[{3 + levels},0],'
        '"children":[{"type":"package_clause","start_point":[0,0],"end_point":[0,14],'
        '"children":[{"type":"package_identifier","start_point":[0,8],"end_point":[0,14],'
        '"text":"tables","children":[]}]},'
        f'{{"type":"var_declaration","start_point":[2,0],"end_point":{last},"children":['
        f'{{"type":"var_spec","start_point":[2,4],"end_point":{last},"children":['
        '{"type":"identifier","field":"name","start_point":[2,4],"end_point":[2,9],'
        '"text":"table","children":[]},'
        f'{{"type":"expression_list","field":"value","start_point":[2,{c0}],'
        f'"end_point":{last},"children":['
    ]
    for k in range(levels, 0, -1):
        field_ = ',"field":"left"' if k < levels else ""
        parts.append(
            f'{{"type":"binary_expression"{field_},"start_point":[2,{c0}],'
            f'"end_point":[{2 + k},{1 + len(ops[k])}],"children":['
        )
    parts.append(leaf(0, "left"))
    parts.extend("," + leaf(k, "right") + "]}" for k in range(1, levels + 1))
    parts.append("]}]}]}]}}")
    return "".join(parts).encode()
