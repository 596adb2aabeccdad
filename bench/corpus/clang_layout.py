"""Where ``clang -ast-dump=json`` puts things, and how it prints them.

``loc``/``range`` of each node, the ``file`` and ``line`` it leaves out when they did not change,
and its pretty printing (two spaces) inside the translation unit's ``inner``.
"""

from typing import Any

import orjson

from .grow import Node, _Cursor

_CLANG_BLOCKS = frozenset({
    "CompoundStmt", "RecordDecl", "CXXRecordDecl", "NamespaceDecl", "EnumDecl", "LinkageSpecDecl",
})  # fmt: skip
_CLANG_TOK = {
    "IfStmt": 2, "ForStmt": 3, "CXXForRangeStmt": 3, "WhileStmt": 5, "ReturnStmt": 6,
    "SwitchStmt": 6, "CaseStmt": 4, "DefaultStmt": 7, "BreakStmt": 5, "DeclStmt": 3,
    "CXXTryStmt": 3, "CXXCatchStmt": 5, "CXXThisExpr": 4, "CXXNewExpr": 3,
}  # fmt: skip


class _ClangLayout:
    """Gives Clang nodes their source positions; a base of :class:`~.clang_nodes._Clang`."""

    cur: _Cursor
    file: str
    inc: str | None

    def loc(self, tok: int) -> Node:
        c = self.cur
        d: Node = {
            "offset": c.offset,
            "file": self.file,
            "line": c.line,
            "col": c.col + 1,
            "tokLen": tok,
        }
        if self.inc is not None:
            d["includedFrom"] = {"file": self.inc}
        return d

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        if not node or "range" not in node or node["range"] is not None:
            return  # a null child ({}), a type, or an implicit builtin
        cur = self.cur
        if stmt:
            cur.newline(indent)
        name = node.get("name")
        value = node.get("value")
        tok = (
            len(name)
            if name
            else len(value)
            if isinstance(value, str)
            else _CLANG_TOK.get(node["kind"], 1)
        )
        begin = self.loc(4 if "loc" in node else tok)
        if "loc" in node:
            cur.skip(4)
            node["loc"] = self.loc(tok)
        cur.skip(tok)
        inner = node.get("inner")
        if inner:
            block = node["kind"] in _CLANG_BLOCKS
            for child in inner:
                if child.__class__ is dict:
                    self.layout(child, indent + 2 if block else indent, block)
                    cur.skip(1)
            if block:
                cur.newline(indent)
        node["range"] = {"begin": begin, "end": self.loc(1)}
        cur.skip(1)


def _squeeze(root: Node, state: list[Any]) -> None:
    """Drop ``file`` and ``line`` where unchanged since the previous location, as clang does.

    ``state`` is the last written (file, line), carried across units in output order (a
    node's ``loc``, then its ``range``, then its children).
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if not node:
            continue
        loc = node.get("loc")
        if loc:
            _squeeze_loc(loc, state)
        rng_ = node.get("range")
        if rng_ and rng_.get("begin"):
            _squeeze_loc(rng_["begin"], state)
            _squeeze_loc(rng_["end"], state)
        inner = node.get("inner")
        if inner:
            stack.extend(reversed(inner))


def _squeeze_loc(loc: Node, state: list[Any]) -> None:
    if "spellingLoc" in loc:
        _squeeze_loc(loc["spellingLoc"], state)
        _squeeze_loc(loc["expansionLoc"], state)
        return
    file, line = loc["file"], loc["line"]
    if file == state[0]:
        del loc["file"]
        if line == state[1]:
            del loc["line"]
    state[0], state[1] = file, line


def _pretty(node: Node) -> bytes:
    """A top-level node as clang prints it inside the translation unit's ``inner``."""
    return b"    " + orjson.dumps(node, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n    ")
