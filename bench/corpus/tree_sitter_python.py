"""The neutral program as tree-sitter-python nodes."""

from collections.abc import Sequence

from .grow import Node
from .program import Ir
from .python_ast import _PY_MODULES
from .tree_sitter_nodes import _Sitter, _t, _with_field


class _PySitter(_Sitter):
    lang = "python"
    blocks = frozenset({"block"})
    modules = _PY_MODULES

    def string(self, s: str, field: str | None) -> Node:
        kids = [_t("string_start", text='"')]
        if s:
            kids.append(_t("string_content", text=s))
        kids.append(_t("string_end", text='"'))
        return _t("string", kids, field)

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        return _t("block", self.stmts(body) or [_t("pass_statement", text="pass")], field)

    def dotted(self, name: str, field: str | None = None) -> Node:
        return _t("dotted_name", [self.ident(p) for p in name.split(".")], field)

    def _item_import(self, it: Ir) -> list[Node]:
        _, module, names = it
        if self.rng.random() < 0.5:
            return [_t("import_statement", [self.dotted(module, "name")])]
        return [
            _t(
                "import_from_statement",
                [self.dotted(module, "module_name"), *(self.dotted(n, "name") for n in names)],
            )
        ]

    def function(self, name: str, params: Sequence[str], body: Sequence[Ir], method: bool) -> Node:
        ps = [self.ident("self")] if method else []
        for p in params:
            if self.rng.random() < 0.3:
                ps.append(
                    _t("typed_parameter", [self.ident(p), _t("type", [self.ident("str")], "type")])
                )
            else:
                ps.append(self.ident(p))
        kids = [self.ident(name, "name"), _t("parameters", ps, "parameters")]
        if self.rng.random() < 0.3:
            kids.append(_t("type", [_t("none", text="None")], "return_type"))
        kids.append(self.block(body))
        return _t("function_definition", kids)

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, _exported, _ = it
        fn = self.function(name, params, body, False)
        if self.rng.random() < 0.1:
            return [
                _t(
                    "decorated_definition",
                    [_t("decorator", [self.ident("cache")]), _with_field(fn, "definition")],
                )
            ]
        return [fn]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, base, fields, methods = it
        body = [
            _t(
                "expression_statement",
                [_t("assignment", [self.ident(f, "left"), self.expr(v, "right")])],
            )
            for f, v in fields
        ]
        body += [self.function(m, p, b, True) for _, m, p, b in methods]
        kids = [self.ident(name, "name")]
        if base:
            kids.append(_t("argument_list", [self.ident(base)], "superclasses"))
        kids.append(_t("block", body or [_t("pass_statement", text="pass")], "body"))
        return [_t("class_definition", kids)]

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        return [
            _t(
                "expression_statement",
                [_t("assignment", [self.ident(name.upper(), "left"), self.expr(value, "right")])],
            )
        ]

    def _stmt_let(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment", [self.ident(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment", [self.expr(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return _t("expression_statement", [self.expr(s[1])])

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        kids = [self.expr(cond, "condition"), self.block(then, "consequence")]
        while orelse:
            if len(orelse) == 1 and orelse[0][0] == "if":
                _, c2, t2, orelse = orelse[0]
                kids.append(
                    _t(
                        "elif_clause",
                        [self.expr(c2, "condition"), self.block(t2, "consequence")],
                        "alternative",
                    )
                )
            else:
                kids.append(_t("else_clause", [self.block(orelse)], "alternative"))
                break
        return _t("if_statement", kids)

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return _t(
            "for_statement",
            [self.ident(var, "left"), self.expr(iterable, "right"), self.block(body)],
        )

    def _stmt_while(self, s: Ir) -> Node:
        return _t("while_statement", [self.expr(s[1], "condition"), self.block(s[2])])

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        clauses = [
            _t("case_clause", [_t("case_pattern", [self.expr(v)]), self.block(b, "consequence")])
            for v, b in cases
        ]
        if default:
            clauses.append(
                _t(
                    "case_clause",
                    [_t("case_pattern", text="_"), self.block(default, "consequence")],
                )
            )
        return _t("match_statement", [self.expr(subject, "subject"), _t("block", clauses, "body")])

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        exc = _t(
            "as_pattern",
            [self.ident("OSError"), _t("as_pattern_target", [self.ident(err)], "alias")],
        )
        return _t(
            "try_statement",
            [self.block(body), _t("except_clause", [exc, self.block(handler, None)])],
        )

    def _stmt_return(self, s: Ir) -> Node:
        return _t("return_statement", [self.expr(s[1])] if s[1] else None)

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return self.ident("self", field)

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t("attribute", [self.expr(e[1], "object"), self.ident(e[2], "attribute")], field)

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        return _t(
            "call",
            [
                self.expr(e[1], "function"),
                _t("argument_list", [self.expr(a) for a in e[2]], "arguments"),
            ],
            field,
        )

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        return self._expr_call(("call", ("name", e[1]), e[2]), field)

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_operator", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    def _expr_cmp(self, e: Ir, field: str | None) -> Node:
        return _t("comparison_operator", [self.expr(e[2]), self.expr(e[3])], field)

    def _expr_logic(self, e: Ir, field: str | None) -> Node:
        return _t("boolean_operator", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        return _t("float" if isinstance(e[1], float) else "integer", field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        ps = _t("lambda_parameters", [self.ident(p) for p in e[1]], "parameters")
        return _t("lambda", [ps, self.expr(e[2], "body")], field)

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return _t(
            "conditional_expression", [self.expr(e[2]), self.expr(e[1]), self.expr(e[3])], field
        )

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        return _t("list", [self.expr(x) for x in e[1]], field)
