"""py-tree-sitter dumps in an envelope, for Go, Rust, Java and Python.

Nodes come from the grammar's renderer; occasional ``ERROR`` and ``missing`` nodes stand for the
syntax errors real trees carry.
"""

import random
from typing import Any

import orjson

from .grow import _SENTINEL, Node, _cap_imports, _Doc, _sha, _splice
from .names import _NOUNS, _Names
from .program import _Program
from .tree_sitter_go import _GoSitter
from .tree_sitter_java import _JavaSitter
from .tree_sitter_nodes import _missing, _Sitter, _t
from .tree_sitter_python import _PySitter
from .tree_sitter_rust import _RustSitter

_GRAMMARS = {"go": "0.25.0", "rust": "0.24.2", "java": "0.23.5", "python": "0.25.0"}
_ROOT_TYPES = {"go": "source_file", "rust": "source_file", "java": "program", "python": "module"}


_SITTERS: dict[str, type[_Sitter]] = {
    "go": _GoSitter, "rust": _RustSitter, "java": _JavaSitter, "python": _PySitter,
}  # fmt: skip


class _SitterDoc(_Doc):
    """A py-tree-sitter dump in its envelope; Java's units live in one top-level class."""

    bps = 600.0

    def __init__(
        self,
        rng: random.Random,
        lang: str,
        path: str,
        *,
        errors: bool = False,
        target: int = 1 << 30,
    ) -> None:
        super().__init__(rng)
        self.lang = lang
        self.path = path
        names = _Names(rng, snake=lang in ("python", "rust"))
        self.r = _SITTERS[lang](rng, names)
        self.program = _Program(
            rng, names, imports=_cap_imports(self.r.imports(), target), unicode=False
        )
        self.errors = errors
        self.cur.line = -1  # rows are 0-based
        self.pre: list[bytes] = []
        self.java_class: Node | None = None
        self.indent = 0
        for node in self.r.preamble():
            self._put(node, self.pre)
        if lang == "java":
            while self.program.pending:
                it, _ = self.program.item(1)
                for node in self.r.item(it):
                    self._put(node, self.pre)
            self._open_java_class(names)

    def _open_java_class(self, names: _Names) -> None:
        self.cur.newline(0)
        start = [self.cur.line, self.cur.col]
        mods = _t("modifiers", text="public final")
        ident = self.r.ident(names.cls(), "name")
        self.layout(mods, 0, False)
        self.cur.skip(7)
        self.layout(ident, 0, False)
        body = _t("class_body", [_SENTINEL], "body")  # type: ignore[list-item]
        body["start_point"] = [self.cur.line, self.cur.col + 1]
        self.java_class = _t("class_declaration", [mods, ident, body])
        self.java_class["start_point"] = start
        self.indent = 4

    def _put(self, node: Node, out: list[bytes]) -> None:
        self.layout(node, self.indent, True)
        out.append(orjson.dumps(node))

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        cur = self.cur
        if stmt:
            cur.newline(indent)
        start = [cur.line, cur.col]
        kids = node["children"]
        if not kids:
            if "missing" not in node:
                cur.skip(len(node["text"]) or 1)
        elif node["type"] in self.r.blocks:
            cur.skip(1)
            for k in kids:
                self.layout(k, indent + 4, True)
            cur.newline(indent)
            cur.skip(1)
        else:
            cur.skip(1)
            for k in kids:
                self.layout(k, indent, False)
                cur.skip(1)
        node["start_point"] = start
        node["end_point"] = [cur.line, cur.col]

    def overhead(self) -> int:
        return (
            330
            + len(self.path)
            + sum(len(b) + 1 for b in self.pre)
            + (250 if self.java_class else 0)
        )

    def mark(self) -> tuple[Any, ...]:
        return self.cur.state(), len(self.units), len(self.program.functions)

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]
        del self.program.functions[m[2] :]

    def unit(self, size: int) -> tuple[int, int]:
        it, used = self.program.item(size)
        nodes = self.r.item(it)
        if self.errors and self.rng.random() < 0.2:
            nodes.append(self._error())
        n = len(self.units)
        for node in nodes:
            self._put(node, self.units)
        return sum(len(b) + 1 for b in self.units[n:]), used

    def _error(self) -> Node:
        """What a syntax error leaves: an ``ERROR`` node, or a node tree-sitter invented."""
        if self.rng.random() < 0.5:
            return _t(
                "ERROR",
                [self.r.ident(self.rng.choice(_NOUNS)), self.r.ident(self.rng.choice(_NOUNS))],
            )
        call = {
            "go": "call_expression",
            "rust": "call_expression",
            "java": "method_invocation",
            "python": "call",
        }[self.lang]
        args = {
            "go": "argument_list",
            "rust": "arguments",
            "java": "argument_list",
            "python": "argument_list",
        }[self.lang]
        fn = "name" if self.lang == "java" else "function"
        stmt = "expression_statement"
        return _t(
            stmt,
            [
                _t(
                    call,
                    [
                        self.r.ident(self.program.names.func(), fn),
                        _t(args, [_missing("identifier")], "arguments"),
                    ],
                )
            ],
        )

    def finish(self) -> bytes:
        rng = self.rng
        cur = self.cur
        body = b",".join(self.units)
        if self.java_class is not None:
            cur.newline(0)
            cur.skip(1)
            cls = self.java_class
            cls["children"][2]["end_point"] = [cur.line, cur.col]
            cls["end_point"] = [cur.line, cur.col]
            body = b",".join([*self.pre, _splice(orjson.dumps(cls), body)])
        elif self.pre:
            body = b",".join([*self.pre, body]) if body else b",".join(self.pre)
        env = {
            "language": self.lang,
            "parser": {
                "name": "tree-sitter",
                "version": "0.26.1",
                "grammar": f"tree-sitter-{self.lang}",
                "grammar_version": _GRAMMARS[self.lang],
            },
            "source": {"path": self.path, "sha256": _sha(rng), "size": cur.offset},
            "ast": {
                "type": _ROOT_TYPES[self.lang],
                "start_point": [0, 0],
                "end_point": [cur.line + 1, 0],
                "children": [_SENTINEL],
            },
        }
        return _splice(orjson.dumps(env), body)
