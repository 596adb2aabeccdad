"""ESTree documents as acorn, @babel/parser and typescript-estree write them.

Source positions in each dialect's form, comments (attached and listed), typescript-estree's
optional ``tokens``, and the root (``Program``, or Babel's ``File``); the nodes themselves come
from :mod:`.estree_nodes`.
"""

import random
from typing import Any

import orjson

from .estree_nodes import _EstreeNodes
from .grow import _SENTINEL, Node, _cap_imports, _Cursor, _Doc, _splice
from .names import _Names
from .program import _Program

# Source width of a node's first token, for positions (keywords and punctuation).
_JS_PREFIX = {
    "ReturnStatement": 7, "IfStatement": 4, "ForOfStatement": 5, "ForStatement": 5,
    "WhileStatement": 6, "SwitchStatement": 7, "TryStatement": 4, "CatchClause": 6,
    "FunctionDeclaration": 9, "FunctionExpression": 9, "VariableDeclaration": 6,
    "ImportDeclaration": 7, "ExportNamedDeclaration": 7, "ClassDeclaration": 6,
    "NewExpression": 4, "ThrowStatement": 6, "ThisExpression": 4, "SwitchCase": 5,
    "BreakStatement": 6, "TSInterfaceDeclaration": 10, "TSTypeAliasDeclaration": 5,
    "TSDeclareFunction": 17, "TSStringKeyword": 6, "TSNumberKeyword": 6, "TSAnyKeyword": 3,
    "TSBooleanKeyword": 7, "TSUnknownKeyword": 7, "TSVoidKeyword": 4, "TSUndefinedKeyword": 9,
}  # fmt: skip
_JS_KEYWORDS = {
    "ReturnStatement": "return", "IfStatement": "if", "ForOfStatement": "for",
    "ForStatement": "for", "WhileStatement": "while", "SwitchStatement": "switch",
    "TryStatement": "try", "FunctionDeclaration": "function", "VariableDeclaration": "const",
    "ImportDeclaration": "import", "ExportNamedDeclaration": "export", "ClassDeclaration": "class",
    "TSInterfaceDeclaration": "interface", "TSTypeAliasDeclaration": "type",
}  # fmt: skip
_JS_BLOCKS = frozenset({"body", "consequent", "cases"})  # lists whose elements start lines
_JS_SKIP = frozenset({"leadingComments", "trailingComments", "comments", "tokens"})
_JS_MODULES = (
    "./util", "./types", "../internal/util", "../operators/map", "./config", "rxjs", "react",
    "lodash", "tslib", "../scheduler/async", "./errors", "node:fs", "node:path", "events",
)  # fmt: skip


class _JsDoc(_EstreeNodes, _Doc):
    """An ESTree document in one of three dialects: ``acorn``, ``babel`` or ``ts``."""

    max_size = 30

    def __init__(
        self,
        rng: random.Random,
        dialect: str,
        *,
        declarations: bool = False,
        tokens: bool = False,
        locations: bool = True,
        target: int = 1 << 30,
    ) -> None:
        super().__init__(rng)
        self.babel = dialect == "babel"
        self.ts = dialect == "ts"
        self.declarations = declarations
        self.locations = locations
        self.bps = {"acorn": 800.0, "babel": 1100.0, "ts": 1000.0}[dialect]
        if declarations:
            self.bps = 500.0
        names = _Names(rng, snake=False)
        imports = [
            (
                "import",
                rng.choice(_JS_MODULES),
                tuple(names.func() for _ in range(rng.randint(0, 3))),
            )
            for _ in range(rng.randint(0, 8 if not declarations else 2))
        ]
        self.program = _Program(
            rng,
            names,
            imports=_cap_imports(imports, target),
            types=self.ts,
            declarations=declarations,
        )
        self.comments: list[Node] = []
        self.comment_bytes: list[bytes] = []
        self.tokens: list[Node] | None = [] if tokens and self.ts else None
        self.token_bytes: list[bytes] = []
        if self.ts:
            self.setpos = self._pos_ts
        elif self.babel:
            self.setpos = self._pos_babel
        else:
            self.setpos = self._pos_acorn if locations else self._pos_offsets

    # positions

    @staticmethod
    def _pos_acorn(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["start"] = s[0]
        n["end"] = c.offset
        n["loc"] = {
            "start": {"line": s[1], "column": s[2]},
            "end": {"line": c.line, "column": c.col},
        }

    @staticmethod
    def _pos_offsets(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["start"] = s[0]
        n["end"] = c.offset
        del n["loc"]

    @staticmethod
    def _pos_babel(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["start"] = s[0]
        n["end"] = c.offset
        loc: Node = {
            "start": {"line": s[1], "column": s[2], "index": s[0]},
            "end": {"line": c.line, "column": c.col, "index": c.offset},
        }
        if n["type"] == "Identifier":
            loc["identifierName"] = n["name"]
        n["loc"] = loc

    @staticmethod
    def _pos_ts(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["range"] = [s[0], c.offset]
        n["loc"] = {
            "end": {"column": c.col, "line": c.line},
            "start": {"column": s[2], "line": s[1]},
        }

    def _token(self, kind: str, value: str, s: tuple[int, int, int]) -> None:
        assert self.tokens is not None
        tok: Node = {"type": kind, "loc": None, "range": None, "value": value}
        self.setpos(tok, s, self.cur)
        self.tokens.append(tok)

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        """Give ``node`` and its subtree source positions, in source order."""
        cur = self.cur
        if stmt:
            if "leadingComments" in node:
                self._layout_comments(node, indent)
            cur.newline(indent)
        s = cur.state()
        self._first_token(node, s)
        for k, v in node.items():
            if k in _JS_SKIP:
                continue
            cls = v.__class__
            if cls is dict:
                if "type" in v:
                    self.layout(v, indent, False)
                    cur.skip(1)
            elif cls is list and v:
                if k in _JS_BLOCKS:
                    for x in v:
                        self.layout(x, indent + 2, True)
                    cur.newline(indent)
                else:
                    for x in v:
                        if x.__class__ is dict and "type" in x:
                            self.layout(x, indent, False)
                            cur.skip(2)
        if stmt and self.tokens is not None:
            p = cur.state()
            cur.skip(1)
            self._token("Punctuator", ";", p)
        self.setpos(node, s, cur)

    def _layout_comments(self, node: Node, indent: int) -> None:
        """Leading comments take lines of their own; typescript-estree only lists them."""
        comments = node.pop("leadingComments") if self.ts else node["leadingComments"]
        cur = self.cur
        for c in comments:
            cur.newline(indent)
            s = cur.state()
            cur.skip(len(c["value"]) + 4)
            self.setpos(c, s, cur)
            self.comments.append(c)

    def _first_token(self, node: Node, s: tuple[int, int, int]) -> None:
        """Step over a node's first token: a leaf's text, or a keyword or punctuation."""
        cur = self.cur
        tokens = self.tokens
        t = node["type"]
        if t == "Identifier":
            cur.skip(len(node["name"]))
            if tokens is not None:
                self._token("Identifier", node["name"], s)
        elif "raw" in node:
            cur.skip(len(node["raw"]))
            if tokens is not None:
                self._token("String" if node["raw"][:1] in "'\"" else "Numeric", node["raw"], s)
        elif "extra" in node and "raw" in node["extra"]:
            cur.skip(len(node["extra"]["raw"]))
        else:
            cur.skip(_JS_PREFIX.get(t, 1))
            if tokens is not None and t in _JS_KEYWORDS:
                self._token("Keyword", _JS_KEYWORDS[t], s)

    # the document

    def overhead(self) -> int:
        return 260 if self.babel else 160

    def mark(self) -> tuple[Any, ...]:
        p = self.program
        tokens = len(self.tokens) if self.tokens is not None else 0
        return (
            self.cur.state(),
            len(self.units),
            len(self.comments),
            len(self.comment_bytes),
            tokens,
            len(self.token_bytes),
            len(p.functions),
        )

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]
        del self.comments[m[2] :]
        del self.comment_bytes[m[3] :]
        if self.tokens is not None:
            del self.tokens[m[4] :]
        del self.token_bytes[m[5] :]
        del self.program.functions[m[6] :]

    def unit(self, size: int) -> tuple[int, int]:
        it, used = self.program.item(size)
        node = self.item(it)
        n_comments = len(self.comments)
        n_tokens = len(self.tokens) if self.tokens is not None else 0
        self.layout(node, 0, True)
        data = orjson.dumps(node)
        self.units.append(data)
        added = len(data)
        if not self.ts and not self.babel:
            return added, used
        for c in self.comments[n_comments:]:
            b = orjson.dumps(c)
            self.comment_bytes.append(b)
            added += len(b) + 1
        if self.tokens is not None:
            for tok in self.tokens[n_tokens:]:
                b = orjson.dumps(tok)
                self.token_bytes.append(b)
                added += len(b) + 1
        return added, used

    def _root_loc(self) -> tuple[Any, Any]:
        c = self.cur
        if self.ts:
            return [0, c.offset], {
                "end": {"column": c.col, "line": c.line},
                "start": {"column": 0, "line": 1},
            }
        index = self.babel
        start: Node = {"line": 1, "column": 0}
        end: Node = {"line": c.line, "column": c.col}
        if index:
            start["index"] = 0
            end["index"] = c.offset
        return None, {"start": start, "end": end}

    def finish(self) -> bytes:
        body = b",".join(self.units)
        c = self.cur
        rng_, loc = self._root_loc()
        if self.ts:
            root: Node = {
                "type": "Program",
                "range": rng_,
                "body": [_SENTINEL],
                "comments": [_SENTINEL],
                "sourceType": "module",
                "loc": loc,
            }
            parts = [body, b",".join(self.comment_bytes)]
            if self.tokens is not None:
                root["tokens"] = [_SENTINEL]
                parts.append(b",".join(self.token_bytes))
            return _splice(orjson.dumps(root), *parts)
        if self.babel:
            tail = self._source_map_comment()
            if tail and self.units:  # attached to the last statement too, as Babel does
                last = self.units[-1]
                body = b",".join(
                    [*self.units[:-1], last[:-1] + b',"trailingComments":[' + tail[0] + b"]}"]
                )
            program = {
                "type": "Program",
                "start": 0,
                "end": c.offset,
                "loc": loc,
                "sourceType": "module",
                "interpreter": None,
                "body": [_SENTINEL],
                "directives": [],
                "extra": {"topLevelAwait": False},
            }
            file = {
                "type": "File",
                "start": 0,
                "end": c.offset,
                "loc": loc,
                "errors": [],
                "program": program,
                "comments": [_SENTINEL],
            }
            return _splice(orjson.dumps(file), body, b",".join([*self.comment_bytes, *tail]))
        root = {
            "type": "Program",
            "start": 0,
            "end": c.offset,
            "loc": loc,
            "body": [_SENTINEL],
            "sourceType": "module",
        }
        if not self.locations:
            del root["loc"]
        return _splice(orjson.dumps(root), body)

    def _source_map_comment(self) -> list[bytes]:
        """Bundled output ends with ``//# sourceMappingURL=…`` (listed, as Babel does)."""
        if self.rng.random() < 0.5:
            return []
        c: Node = {
            "type": "CommentLine",
            "value": "# sourceMappingURL=index.js.map",
            "start": 0,
            "end": 0,
            "loc": None,
        }
        self.cur.newline(0)
        s = self.cur.state()
        self.cur.skip(len(c["value"]) + 2)
        self.setpos(c, s, self.cur)
        return [orjson.dumps(c)]
