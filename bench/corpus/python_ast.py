"""CPython ``ast`` as JSON in an envelope (``_type`` on every node).

Marker strings stand for the constants JSON cannot hold (bytes, inf/nan, complex, ``...``), and a
few files hold escaped lone surrogates, as ``json.dumps`` writes them.
"""

import base64
import random
from collections.abc import Sequence
from typing import Any

import orjson

from .grow import _SENTINEL, Node, _cap_imports, _Doc, _sha, _splice
from .names import _NOUNS, _Names
from .program import Ir, _Program

_PY_LOAD: Node = {"_type": "Load"}
_PY_STORE: Node = {"_type": "Store"}
_PY_OPS = {"+": "Add", "-": "Sub", "*": "Mult", "/": "Div", "%": "Mod"}
_PY_CMP = {"<": "Lt", ">": "Gt", "<=": "LtE", ">=": "GtE", "==": "Eq", "!=": "NotEq"}
_PY_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_PY_MODULES = (
    "os", "sys", "json", "re", "typing", "collections", "dataclasses", "pathlib", "logging",
    "functools", "itertools", "asyncio", "contextlib", "abc", "enum", "time", "datetime",
)  # fmt: skip
_PY_WIDTH = {"Name": "id", "alias": "name", "arg": "arg", "Attribute": "attr"}
# Escapes of lone surrogates, as json.dumps writes str constants that hold them.
_SURROGATES = (b"\\ud800", b"\\udcff", b"\\udc80abc", b"x\\ud83d", b"\\udfff\\ud800")
_MARKERS = (
    lambda rng: "__bytes__:" + base64.b64encode(rng.randbytes(rng.randint(0, 12))).decode(),
    lambda rng: rng.choice(("__float__:inf", "__float__:-inf", "__float__:nan")),
    lambda rng: "__complex__:" + rng.choice(("1j", "2.5j", "(1+2j)", "-0.5j")),
    lambda rng: "__ellipsis__:...",
)


class _PyAstDoc(_Doc):
    """CPython 3.11 ``ast`` as JSON (``_type`` on every node), in the envelope."""

    bps = 650.0

    def __init__(
        self, rng: random.Random, path: str, *, surrogates: bool = False, target: int = 1 << 30
    ) -> None:
        super().__init__(rng)
        self.path = path
        self.surrogates = surrogates
        self.n_surrogates = 0
        names = _Names(rng, snake=True)
        imports = [
            (
                "import",
                rng.choice(_PY_MODULES),
                tuple(names.var() for _ in range(rng.randint(1, 3))) if rng.random() < 0.5 else (),
            )
            for _ in range(rng.randint(0, 10))
        ]
        self.program = _Program(rng, names, imports=_cap_imports(imports, target), unicode=False)

    def n(self, t: str, f: Node) -> Node:
        d: Node = {"_type": t}
        d.update(f)
        d["lineno"] = d["col_offset"] = d["end_lineno"] = d["end_col_offset"] = 0
        return d

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        cur = self.cur
        if stmt:
            cur.newline(indent)
        line, col = cur.line, cur.col
        t = node["_type"]
        key = _PY_WIDTH.get(t)
        if key is not None:
            cur.skip(len(node[key]))
        elif t == "Constant":
            cur.skip(len(str(node["value"])) + 2)
        else:
            cur.skip(1)
        for k, v in node.items():
            cls = v.__class__
            if cls is dict:
                if "_type" in v:
                    self.layout(v, indent, False)
                    cur.skip(1)
            elif cls is list and v:
                if k in _PY_BLOCKS:
                    for x in v:
                        self.layout(x, indent + 4, True)
                else:
                    for x in v:
                        if x.__class__ is dict:
                            self.layout(x, indent, False)
                            cur.skip(2)
        if "lineno" in node:
            node["lineno"] = line
            node["col_offset"] = col
            node["end_lineno"] = cur.line
            node["end_col_offset"] = cur.col

    def overhead(self) -> int:
        return 250 + len(self.path)

    def mark(self) -> tuple[Any, ...]:
        return self.cur.state(), len(self.units), len(self.program.functions)

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]
        del self.program.functions[m[2] :]

    def unit(self, size: int) -> tuple[int, int]:
        it, used = self.program.item(size)
        node = getattr(self, "_item_" + it[0])(it)
        self.layout(node, 0, True)
        data = orjson.dumps(node)
        if self.surrogates and b"@@SURR@@" in data:
            data = data.replace(b"@@SURR@@", self.rng.choice(_SURROGATES))
        self.units.append(data)
        return len(data), used

    def finish(self) -> bytes:
        rng = self.rng
        env = {
            "language": "python",
            "parser": {"name": "cpython-ast", "version": f"3.11.{rng.choice((4, 7, 9))}"},
            "source": {"path": self.path, "sha256": _sha(rng), "size": self.cur.offset},
            "ast": {"_type": "Module", "body": [_SENTINEL], "type_ignores": []},
        }
        return _splice(orjson.dumps(env), b",".join(self.units))

    # items

    def arguments(self, params: Sequence[str], self_: bool = False) -> Node:
        names = ["self", *params] if self_ else list(params)
        args = [
            self.n(
                "arg",
                {
                    "arg": p,
                    "annotation": self.name(self.rng.choice(("str", "int", "Any", "bool")))
                    if self.rng.random() < 0.3
                    else None,
                    "type_comment": None,
                },
            )
            for p in names
        ]
        return {
            "_type": "arguments",
            "posonlyargs": [],
            "args": args,
            "vararg": None,
            "kwonlyargs": [],
            "kw_defaults": [],
            "kwarg": None,
            "defaults": [],
        }

    def _item_import(self, it: Ir) -> Node:
        _, module, names = it
        if names:
            aliases = [self.n("alias", {"name": x, "asname": None}) for x in names]
            return self.n("ImportFrom", {"module": module, "names": aliases, "level": 0})
        return self.n("Import", {"names": [self.n("alias", {"name": module, "asname": None})]})

    def function(
        self,
        name: str,
        params: Sequence[str],
        body: Sequence[Ir] | None,
        is_async: bool = False,
        method: bool = False,
    ) -> Node:
        stmts = [self.stmt(s) for s in body] if body else [self.ellipsis()]
        if self.rng.random() < 0.3:
            doc = " ".join(self.rng.choice(_NOUNS) for _ in range(self.rng.randint(3, 12)))
            stmts.insert(0, self.n("Expr", {"value": self.const(doc.capitalize() + ".")}))
        decorators = [self.name("staticmethod")] if method and self.rng.random() < 0.1 else []
        return self.n(
            "AsyncFunctionDef" if is_async else "FunctionDef",
            {
                "name": name,
                "args": self.arguments(params, method and not decorators),
                "body": stmts,
                "decorator_list": decorators,
                "returns": self.name("None") if self.rng.random() < 0.3 else None,
                "type_comment": None,
            },
        )

    def _item_func(self, it: Ir) -> Node:
        _, name, params, body, _exported, is_async = it
        return self.function(name, params, body, is_async)

    def _item_class(self, it: Ir) -> Node:
        _, name, base, fields, methods = it
        body: list[Node] = [
            self.n(
                "Assign",
                {"targets": [self.name(f, _PY_STORE)], "value": self.expr(v), "type_comment": None},
            )
            for f, v in fields
        ]
        body += [self.function(m, p, b, method=True) for _, m, p, b in methods]
        return self.n(
            "ClassDef",
            {
                "name": name,
                "bases": [self.name(base)] if base else [],
                "keywords": [],
                "body": body or [self.n("Pass", {})],
                "decorator_list": [],
            },
        )

    def _item_var(self, it: Ir) -> Node:
        _, name, value, _exported = it
        return self.n(
            "Assign",
            {
                "targets": [self.name(name.upper(), _PY_STORE)],
                "value": self.expr(value),
                "type_comment": None,
            },
        )

    # statements

    def stmt(self, s: Ir) -> Node:
        return getattr(self, "_stmt_" + s[0])(s)  # type: ignore[no-any-return]

    def _stmt_let(self, s: Ir) -> Node:
        return self.n(
            "Assign",
            {
                "targets": [self.name(s[1], _PY_STORE)],
                "value": self.expr(s[2]),
                "type_comment": None,
            },
        )

    def _stmt_set(self, s: Ir) -> Node:
        target = self.expr(s[1], _PY_STORE)
        if self.rng.random() < 0.15:
            return self.n(
                "AugAssign", {"target": target, "op": {"_type": "Add"}, "value": self.expr(s[2])}
            )
        return self.n(
            "Assign", {"targets": [target], "value": self.expr(s[2]), "type_comment": None}
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return self.n("Expr", {"value": self.expr(s[1])})

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        return self.n(
            "If",
            {
                "test": self.expr(cond),
                "body": [self.stmt(x) for x in then],
                "orelse": [self.stmt(x) for x in orelse or ()],
            },
        )

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return self.n(
            "For",
            {
                "target": self.name(var, _PY_STORE),
                "iter": self.expr(iterable),
                "body": [self.stmt(x) for x in body],
                "orelse": [],
                "type_comment": None,
            },
        )

    def _stmt_while(self, s: Ir) -> Node:
        return self.n(
            "While", {"test": self.expr(s[1]), "body": [self.stmt(x) for x in s[2]], "orelse": []}
        )

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        if self.rng.random() < 0.2:
            match_cases = [
                {
                    "_type": "match_case",
                    "pattern": self.n("MatchValue", {"value": self.expr(v)}),
                    "guard": None,
                    "body": [self.stmt(x) for x in body],
                }
                for v, body in cases
            ]
            return self.n("Match", {"subject": self.expr(subject), "cases": match_cases})
        node: Node | None = None
        orelse = [self.stmt(x) for x in default or ()]
        for value, body in reversed(cases):
            test = ("cmp", "==", subject, value)
            node = self.n(
                "If",
                {"test": self.expr(test), "body": [self.stmt(x) for x in body], "orelse": orelse},
            )
            orelse = [node]
        assert node is not None
        return node

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        h = self.n(
            "ExceptHandler",
            {
                "type": self.name(
                    self.rng.choice(("ValueError", "OSError", "KeyError", "Exception"))
                ),
                "name": err,
                "body": [self.stmt(x) for x in handler],
            },
        )
        return self.n(
            "Try",
            {"body": [self.stmt(x) for x in body], "handlers": [h], "orelse": [], "finalbody": []},
        )

    def _stmt_return(self, s: Ir) -> Node:
        return self.n("Return", {"value": self.expr(s[1]) if s[1] else None})

    # expressions

    def name(self, id_: str, ctx: Node = _PY_LOAD) -> Node:
        return self.n("Name", {"id": id_, "ctx": ctx})

    def const(self, v: Any) -> Node:
        return self.n("Constant", {"value": v, "kind": None})

    def ellipsis(self) -> Node:
        return self.n("Expr", {"value": self.const("__ellipsis__:...")})

    def expr(self, e: Ir, ctx: Node = _PY_LOAD) -> Node:
        k = e[0]
        if k == "name":
            return self.name(e[1], ctx)
        if k == "this":
            return self.name("self", ctx)
        if k == "attr":
            return self.n("Attribute", {"value": self.expr(e[1]), "attr": e[2], "ctx": ctx})
        return getattr(self, "_expr_" + k)(e)  # type: ignore[no-any-return]

    def _expr_call(self, e: Ir) -> Node:
        return self.n(
            "Call", {"func": self.expr(e[1]), "args": [self.expr(a) for a in e[2]], "keywords": []}
        )

    def _expr_new(self, e: Ir) -> Node:
        return self.n(
            "Call", {"func": self.name(e[1]), "args": [self.expr(a) for a in e[2]], "keywords": []}
        )

    def _expr_bin(self, e: Ir) -> Node:
        return self.n(
            "BinOp",
            {"left": self.expr(e[2]), "op": {"_type": _PY_OPS[e[1]]}, "right": self.expr(e[3])},
        )

    def _expr_cmp(self, e: Ir) -> Node:
        return self.n(
            "Compare",
            {
                "left": self.expr(e[2]),
                "ops": [{"_type": _PY_CMP[e[1]]}],
                "comparators": [self.expr(e[3])],
            },
        )

    def _expr_logic(self, e: Ir) -> Node:
        op = "And" if e[1] == "&&" else "Or"
        return self.n("BoolOp", {"op": {"_type": op}, "values": [self.expr(e[2]), self.expr(e[3])]})

    def _expr_not(self, e: Ir) -> Node:
        return self.n("UnaryOp", {"op": {"_type": "Not"}, "operand": self.expr(e[1])})

    def _expr_str(self, e: Ir) -> Node:
        rng = self.rng
        r = rng.random()
        if r < 0.04:
            return self.const(rng.choice(_MARKERS)(rng))
        if self.surrogates and r < 0.35 and self.n_surrogates < 3:
            self.n_surrogates += 1
            return self.const("@@SURR@@")
        return self.const(e[1])

    def _expr_num(self, e: Ir) -> Node:
        return self.const(e[1])

    def _expr_bool(self, e: Ir) -> Node:
        return self.const(e[1])

    def _expr_null(self, e: Ir) -> Node:
        return self.const(None)

    def _expr_lambda(self, e: Ir) -> Node:
        return self.n("Lambda", {"args": self.arguments(e[1]), "body": self.expr(e[2])})

    def _expr_cond(self, e: Ir) -> Node:
        return self.n(
            "IfExp", {"test": self.expr(e[1]), "body": self.expr(e[2]), "orelse": self.expr(e[3])}
        )

    def _expr_list(self, e: Ir) -> Node:
        if e[1] and self.rng.random() < 0.3:
            gen = {
                "_type": "comprehension",
                "target": self.name("x", _PY_STORE),
                "iter": self.expr(e[1][0]),
                "ifs": [],
                "is_async": 0,
            }
            return self.n("ListComp", {"elt": self.name("x"), "generators": [gen]})
        return self.n("List", {"elts": [self.expr(x) for x in e[1]], "ctx": _PY_LOAD})
