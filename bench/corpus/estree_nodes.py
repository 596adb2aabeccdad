"""ESTree nodes for the neutral program, as acorn, @babel/parser and typescript-estree spell them.

The nodes are built without positions; :mod:`.estree` lays them out and assembles the document.
"""

import random
from collections.abc import Sequence
from typing import Any

from .grow import Node
from .names import _NOUNS, _PHRASES, _pascal
from .program import Ir, _Program

_TS_KEYWORD_TYPES = (
    "TSStringKeyword", "TSNumberKeyword", "TSBooleanKeyword", "TSAnyKeyword", "TSUnknownKeyword",
)  # fmt: skip


class _EstreeNodes:
    """Builds the ESTree nodes of items, statements and expressions in the document's dialect.

    A base of :class:`~.estree._JsDoc`, which sets these attributes.
    """

    rng: random.Random
    babel: bool
    ts: bool
    declarations: bool
    program: _Program

    # nodes

    def n(self, t: str, f: Node) -> Node:
        if self.ts:
            d: Node = {"type": t}
            for k in sorted(f):
                d[k] = f[k]
            d["range"] = None
            d["loc"] = None
            return d
        d = {"type": t, "start": 0, "end": 0, "loc": None}
        d.update(f)
        return d

    def ident(self, name: str, annotation: Node | None = None) -> Node:
        if self.ts:
            f: Node = {"decorators": [], "name": name, "optional": False}
            if annotation is not None:
                f["typeAnnotation"] = annotation
            return self.n("Identifier", f)
        return self.n("Identifier", {"name": name})

    def lit(self, v: Any) -> Node:
        if v is None:
            raw = "null"
        elif v is True or v is False:
            raw = "true" if v else "false"
        elif isinstance(v, str):
            raw = "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        else:
            raw = repr(v)
        if self.babel:
            if v is None:
                return self.n("NullLiteral", {})
            if v is True or v is False:
                return self.n("BooleanLiteral", {"value": v})
            t = "StringLiteral" if isinstance(v, str) else "NumericLiteral"
            return self.n(t, {"extra": {"rawValue": v, "raw": raw}, "value": v})
        return self.n("Literal", {"value": v, "raw": raw})

    def comment(self, text: str, block: bool) -> Node:
        if self.ts:
            return {"type": "Block" if block else "Line", "loc": None, "range": None, "value": text}
        t = "CommentBlock" if block else "CommentLine"
        return {"type": t, "value": text, "start": 0, "end": 0, "loc": None}

    def ts_type(self, depth: int = 0) -> Node:
        rng = self.rng
        r = rng.random()
        if r < 0.5:
            return self.n(rng.choice(_TS_KEYWORD_TYPES), {})
        if r < 0.8 or depth:
            f: Node = {"typeName": self.ident(self.program.names.cls())}
            if rng.random() < 0.3:
                params = [self.n(rng.choice(_TS_KEYWORD_TYPES), {})]
                f["typeArguments"] = self.n("TSTypeParameterInstantiation", {"params": params})
            return self.n("TSTypeReference", f)
        if r < 0.9:
            return self.n("TSArrayType", {"elementType": self.ts_type(1)})
        undefined = self.n("TSUndefinedKeyword", {})
        return self.n("TSUnionType", {"types": [self.ts_type(1), undefined]})

    def annotation(self, t: Node | None = None) -> Node:
        return self.n("TSTypeAnnotation", {"typeAnnotation": t or self.ts_type()})

    def param(self, name: str) -> Node:
        if self.ts and self.rng.random() < 0.85:
            return self.ident(name, self.annotation())
        return self.ident(name)

    def block(self, stmts: Sequence[Ir]) -> Node:
        f: Node = {"body": [self.stmt(s) for s in stmts]}
        if self.babel:
            f["directives"] = []
        return self.n("BlockStatement", f)

    def function(
        self, t: str, name: str | None, params: Sequence[str], body: Any, *, is_async: bool = False
    ) -> Node:
        ps = [self.param(p) for p in params]
        ident = self.ident(name) if name else None
        b = body if isinstance(body, dict) or body is None else self.block(body)
        expression = t == "ArrowFunctionExpression" and not (b and b["type"] == "BlockStatement")
        if self.babel:
            return self.n(
                t, {"id": ident, "generator": False, "async": is_async, "params": ps, "body": b}
            )
        if self.ts:
            f: Node = {
                "async": is_async,
                "body": b,
                "expression": expression,
                "generator": False,
                "id": ident,
                "params": ps,
            }
            if t in ("FunctionDeclaration", "TSDeclareFunction"):
                f["declare"] = t == "TSDeclareFunction"
            if t == "TSDeclareFunction":
                del f["body"]  # undefined, so JSON.stringify leaves it out
            if t == "TSDeclareFunction" or self.rng.random() < 0.7:
                f["returnType"] = self.annotation()
            return self.n(t, f)
        return self.n(
            t,
            {
                "id": ident,
                "expression": expression,
                "generator": False,
                "async": is_async,
                "params": ps,
                "body": b,
            },
        )

    def export(self, decl: Node, type_only: bool = False) -> Node:
        if self.ts:
            return self.n(
                "ExportNamedDeclaration",
                {
                    "attributes": [],
                    "declaration": decl,
                    "exportKind": "type" if type_only else "value",
                    "source": None,
                    "specifiers": [],
                },
            )
        if self.babel:
            return self.n(
                "ExportNamedDeclaration",
                {"specifiers": [], "source": None, "attributes": [], "declaration": decl},
            )
        return self.n(
            "ExportNamedDeclaration",
            {"declaration": decl, "specifiers": [], "source": None, "attributes": []},
        )

    def variable(
        self, name: str, init: Node | None, kind: str = "const", typed: bool = False
    ) -> Node:
        if self.ts:
            annotation = self.annotation() if typed or self.rng.random() < 0.3 else None
            d = self.n(
                "VariableDeclarator",
                {"definite": False, "id": self.ident(name, annotation), "init": init},
            )
            return self.n(
                "VariableDeclaration", {"declarations": [d], "declare": False, "kind": kind}
            )
        d = self.n("VariableDeclarator", {"id": self.ident(name), "init": init})
        return self.n("VariableDeclaration", {"declarations": [d], "kind": kind})

    # items

    def item(self, it: Ir) -> Node:
        node: Node = getattr(self, "_item_" + it[0])(it)
        if it[0] != "import" and self.rng.random() < 0.12 and not (self.ts and self.declarations):
            if self.babel or self.ts:
                text = "*\n * " + " ".join(self.rng.choice(_NOUNS) for _ in range(6)) + "\n "
                node["leadingComments"] = [self.comment(text, True)]
        return node

    def _item_import(self, it: Ir) -> Node:
        _, module, names = it
        rng = self.rng
        if names:
            specs = []
            for name in names:
                if self.ts:
                    specs.append(
                        self.n(
                            "ImportSpecifier",
                            {
                                "imported": self.ident(name),
                                "importKind": "value",
                                "local": self.ident(name),
                            },
                        )
                    )
                else:
                    specs.append(
                        self.n(
                            "ImportSpecifier",
                            {"imported": self.ident(name), "local": self.ident(name)},
                        )
                    )
        else:
            alias = _pascal(module.rsplit("/", 1)[-1].replace(":", "_").replace("-", "_"))
            t = "ImportNamespaceSpecifier" if rng.random() < 0.5 else "ImportDefaultSpecifier"
            specs = [self.n(t, {"local": self.ident(alias or "m")})]
        if self.ts:
            return self.n(
                "ImportDeclaration",
                {
                    "attributes": [],
                    "importKind": "value",
                    "phase": None,
                    "source": self.lit(module),
                    "specifiers": specs,
                },
            )
        return self.n(
            "ImportDeclaration", {"specifiers": specs, "source": self.lit(module), "attributes": []}
        )

    def _item_func(self, it: Ir) -> Node:
        _, name, params, body, exported, is_async = it
        if self.rng.random() < 0.25:
            arrow = self.function("ArrowFunctionExpression", None, params, body, is_async=is_async)
            decl = self.variable(name, arrow)
        else:
            decl = self.function("FunctionDeclaration", name, params, body, is_async=is_async)
        return self.export(decl) if exported else decl

    def _item_declare(self, it: Ir) -> Node:
        _, name, params = it
        return self.export(self.function("TSDeclareFunction", name, params, None))

    def _item_var(self, it: Ir) -> Node:
        _, name, value, exported = it
        decl = self.variable(name, self.expr(value), typed=True)
        return self.export(decl) if exported else decl

    def _item_alias(self, it: Ir) -> Node:
        _, name, options = it
        types = [self.n("TSLiteralType", {"literal": self.lit(o)}) for o in options]
        decl = self.n(
            "TSTypeAliasDeclaration",
            {
                "declare": False,
                "id": self.ident(name),
                "typeAnnotation": self.n("TSUnionType", {"types": types}),
            },
        )
        return self.export(decl, type_only=True)

    def _item_interface(self, it: Ir) -> Node:
        _, name, members, methods = it
        body = [
            self.n(
                "TSPropertySignature",
                {
                    "computed": False,
                    "key": self.ident(m),
                    "optional": optional,
                    "readonly": False,
                    "static": False,
                    "typeAnnotation": self.annotation(),
                },
            )
            for m, optional in members
        ]
        body += [
            self.n(
                "TSMethodSignature",
                {
                    "computed": False,
                    "key": self.ident(m),
                    "kind": "method",
                    "optional": False,
                    "params": [self.param(p) for p in ps],
                    "readonly": False,
                    "returnType": self.annotation(),
                    "static": False,
                },
            )
            for m, ps in methods
        ]
        decl = self.n(
            "TSInterfaceDeclaration",
            {
                "body": self.n("TSInterfaceBody", {"body": body}),
                "declare": False,
                "extends": [],
                "id": self.ident(name),
            },
        )
        return self.export(decl, type_only=True)

    def _item_class(self, it: Ir) -> Node:
        _, name, base, fields, methods = it
        members = [self._field(f, v) for f, v in fields]
        members += [self._method(m) for m in methods]
        superclass = self.ident(base) if base else None
        body = self.n("ClassBody", {"body": members})
        if self.ts:
            decl = self.n(
                "ClassDeclaration",
                {
                    "abstract": False,
                    "body": body,
                    "declare": self.declarations,
                    "decorators": [],
                    "id": self.ident(name),
                    "implements": [],
                    "superClass": superclass,
                },
            )
        else:
            decl = self.n(
                "ClassDeclaration", {"id": self.ident(name), "superClass": superclass, "body": body}
            )
        return self.export(decl) if self.rng.random() < 0.6 else decl

    def _field(self, name: str, value: Ir | None) -> Node:
        v = self.expr(value) if value is not None else None
        if self.babel:
            return self.n(
                "ClassProperty",
                {"static": False, "key": self.ident(name), "computed": False, "value": v},
            )
        if self.ts:
            return self.n(
                "PropertyDefinition",
                {
                    "accessibility": "private",
                    "computed": False,
                    "declare": False,
                    "decorators": [],
                    "definite": False,
                    "key": self.ident(name),
                    "optional": False,
                    "override": False,
                    "readonly": False,
                    "static": False,
                    "typeAnnotation": self.annotation(),
                    "value": v,
                },
            )
        return self.n(
            "PropertyDefinition",
            {"static": False, "computed": False, "key": self.ident(name), "value": v},
        )

    def _method(self, m: Ir) -> Node:
        _, name, params, body = m
        key = self.ident(name)
        if self.babel:
            return self.n(
                "ClassMethod",
                {
                    "static": False,
                    "key": key,
                    "computed": False,
                    "kind": "method",
                    "id": None,
                    "generator": False,
                    "async": False,
                    "params": [self.param(p) for p in params],
                    "body": self.block(body),
                },
            )
        if body is None:
            value = self.function("TSEmptyBodyFunctionExpression", None, params, None)
            value["declare"] = False
        else:
            value = self.function("FunctionExpression", None, params, body)
        if self.ts:
            return self.n(
                "MethodDefinition",
                {
                    "computed": False,
                    "decorators": [],
                    "key": key,
                    "kind": "method",
                    "optional": False,
                    "override": False,
                    "static": False,
                    "value": value,
                },
            )
        return self.n(
            "MethodDefinition",
            {"static": False, "computed": False, "key": key, "kind": "method", "value": value},
        )

    # statements

    def stmt(self, s: Ir) -> Node:
        node: Node = getattr(self, "_stmt_" + s[0])(s)
        if self.rng.random() < 0.04 and (self.babel or self.ts):
            node["leadingComments"] = [self.comment(" " + self.rng.choice(_PHRASES), False)]
        return node

    def _stmt_let(self, s: Ir) -> Node:
        return self.variable(s[1], self.expr(s[2]), "const" if self.rng.random() < 0.7 else "let")

    def _stmt_set(self, s: Ir) -> Node:
        assign = self.n(
            "AssignmentExpression",
            {"operator": "=", "left": self.expr(s[1]), "right": self.expr(s[2])},
        )
        return self.n("ExpressionStatement", {"expression": assign})

    def _stmt_expr(self, s: Ir) -> Node:
        return self.n("ExpressionStatement", {"expression": self.expr(s[1])})

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        alternate = None
        if orelse:
            alternate = (
                self.stmt(orelse[0])
                if len(orelse) == 1 and orelse[0][0] == "if"
                else (self.block(orelse))
            )
        return self.n(
            "IfStatement",
            {"test": self.expr(cond), "consequent": self.block(then), "alternate": alternate},
        )

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        if self.rng.random() < 0.6:
            left = self.variable(var, None)
            return self.n(
                "ForOfStatement",
                {
                    "await": False,
                    "left": left,
                    "right": self.expr(iterable),
                    "body": self.block(body),
                },
            )
        init = self.variable("i", self.lit(0), "let")
        test = self.n(
            "BinaryExpression",
            {
                "left": self.ident("i"),
                "operator": "<",
                "right": self.expr(("attr", iterable, "length")),
            },
        )
        update = self.n(
            "UpdateExpression", {"operator": "++", "prefix": False, "argument": self.ident("i")}
        )
        return self.n(
            "ForStatement", {"init": init, "test": test, "update": update, "body": self.block(body)}
        )

    def _stmt_while(self, s: Ir) -> Node:
        return self.n("WhileStatement", {"test": self.expr(s[1]), "body": self.block(s[2])})

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        out = []
        brk = {"label": None}
        for value, body in cases:
            consequent = [self.stmt(x) for x in body] + [self.n("BreakStatement", dict(brk))]
            out.append(self.n("SwitchCase", {"consequent": consequent, "test": self.expr(value)}))
        if default:
            out.append(
                self.n("SwitchCase", {"consequent": [self.stmt(x) for x in default], "test": None})
            )
        return self.n("SwitchStatement", {"discriminant": self.expr(subject), "cases": out})

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        clause = self.n("CatchClause", {"param": self.ident(err), "body": self.block(handler)})
        return self.n(
            "TryStatement", {"block": self.block(body), "handler": clause, "finalizer": None}
        )

    def _stmt_return(self, s: Ir) -> Node:
        return self.n("ReturnStatement", {"argument": self.expr(s[1]) if s[1] else None})

    # expressions

    def expr(self, e: Ir) -> Node:
        return getattr(self, "_expr_" + e[0])(e)  # type: ignore[no-any-return]

    def _expr_name(self, e: Ir) -> Node:
        return self.ident(e[1])

    def _expr_this(self, e: Ir) -> Node:
        return self.n("ThisExpression", {})

    def _expr_attr(self, e: Ir) -> Node:
        obj, prop = self.expr(e[1]), self.ident(e[2])
        if self.babel:
            return self.n("MemberExpression", {"object": obj, "computed": False, "property": prop})
        if self.ts:
            return self.n(
                "MemberExpression",
                {"computed": False, "object": obj, "optional": False, "property": prop},
            )
        return self.n(
            "MemberExpression",
            {"object": obj, "property": prop, "computed": False, "optional": False},
        )

    def _expr_call(self, e: Ir) -> Node:
        callee, args = self.expr(e[1]), [self.expr(a) for a in e[2]]
        if self.babel:
            return self.n("CallExpression", {"callee": callee, "arguments": args})
        return self.n("CallExpression", {"callee": callee, "arguments": args, "optional": False})

    def _expr_new(self, e: Ir) -> Node:
        return self.n(
            "NewExpression", {"callee": self.ident(e[1]), "arguments": [self.expr(a) for a in e[2]]}
        )

    def _expr_bin(self, e: Ir) -> Node:
        return self.n(
            "BinaryExpression",
            {"left": self.expr(e[2]), "operator": e[1], "right": self.expr(e[3])},
        )

    def _expr_cmp(self, e: Ir) -> Node:
        op = {"==": "===", "!=": "!=="}.get(e[1], e[1])
        return self.n(
            "BinaryExpression", {"left": self.expr(e[2]), "operator": op, "right": self.expr(e[3])}
        )

    def _expr_logic(self, e: Ir) -> Node:
        return self.n(
            "LogicalExpression",
            {"left": self.expr(e[2]), "operator": e[1], "right": self.expr(e[3])},
        )

    def _expr_not(self, e: Ir) -> Node:
        return self.n(
            "UnaryExpression", {"operator": "!", "prefix": True, "argument": self.expr(e[1])}
        )

    def _expr_str(self, e: Ir) -> Node:
        return self.lit(e[1])

    def _expr_num(self, e: Ir) -> Node:
        return self.lit(e[1])

    def _expr_bool(self, e: Ir) -> Node:
        return self.lit(e[1])

    def _expr_null(self, e: Ir) -> Node:
        return self.lit(None)

    def _expr_lambda(self, e: Ir) -> Node:
        return self.function("ArrowFunctionExpression", None, e[1], self.expr(e[2]))

    def _expr_cond(self, e: Ir) -> Node:
        return self.n(
            "ConditionalExpression",
            {"test": self.expr(e[1]), "consequent": self.expr(e[2]), "alternate": self.expr(e[3])},
        )

    def _expr_list(self, e: Ir) -> Node:
        return self.n("ArrayExpression", {"elements": [self.expr(x) for x in e[1]]})
