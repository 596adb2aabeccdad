"""The neutral program as tree-sitter-java nodes."""

from collections.abc import Sequence

from .grow import Node
from .names import _NOUNS
from .program import Ir
from .tree_sitter_nodes import _Sitter, _t, _with_field


class _JavaSitter(_Sitter):
    lang = "java"
    blocks = frozenset({"block", "class_body", "switch_block", "interface_body"})
    modules = (
        "java.util",
        "java.io",
        "java.util.concurrent",
        "java.nio.file",
        "java.time",
        "com.acme.core",
        "org.slf4j",
        "java.util.function",
    )

    def string(self, s: str, field: str | None) -> Node:
        return _t(
            "string_literal", [_t("string_fragment", text=s)] if s else None, field, text='""'
        )

    def scoped(self, dotted: str, field: str | None = None) -> Node:
        parts = dotted.split(".")
        node = self.ident(parts[0])
        for p in parts[1:]:
            node = _t("scoped_identifier", [_with_field(node, "scope"), self.ident(p, "name")])
        return _with_field(node, field)

    def preamble(self) -> list[Node]:
        return [_t("package_declaration", [self.scoped("com.acme." + self.rng.choice(_NOUNS))])]

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        return _t("block", self.stmts(body), field)

    def type_(self, field: str = "type") -> Node:
        r = self.rng.random()
        if r < 0.4:
            return _t("integral_type", field=field, text="int")
        if r < 0.5:
            return _t("boolean_type", field=field, text="boolean")
        return _t(
            "type_identifier",
            field=field,
            text=self.rng.choice(("String", "Object", "List", "Map", "Long")),
        )

    def method(self, name: str, params: Sequence[str], body: Sequence[Ir], static: bool) -> Node:
        mods = _t("modifiers", text="public static" if static else "public")
        ps = _t(
            "formal_parameters",
            [_t("formal_parameter", [self.type_(), self.ident(p, "name")]) for p in params],
            "parameters",
        )
        ret = (
            _t("void_type", field="type", text="void")
            if self.rng.random() < 0.4
            else (self.type_())
        )
        return _t("method_declaration", [mods, ret, self.ident(name, "name"), ps, self.block(body)])

    def _item_import(self, it: Ir) -> list[Node]:
        return [_t("import_declaration", [self.scoped(it[1] + "." + it[2][0])])]

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, _exported, _ = it
        return [self.method(name, params, body, True)]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, base, fields, methods = it
        members = [
            _t(
                "field_declaration",
                [
                    _t("modifiers", text="private"),
                    self.type_(),
                    _t(
                        "variable_declarator",
                        [self.ident(f, "name"), self.expr(v, "value")],
                        "declarator",
                    ),
                ],
            )
            for f, v in fields
        ]
        members += [self.method(m, p, b, False) for _, m, p, b in methods]
        kids = [_t("modifiers", text="static final"), self.ident(name, "name")]
        if base:
            kids.append(_t("superclass", [_t("type_identifier", text=base)], "superclass"))
        kids.append(_t("class_body", members, "body"))
        return [_t("class_declaration", kids)]

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        return [
            _t(
                "field_declaration",
                [
                    _t("modifiers", text="private static final"),
                    self.type_(),
                    _t(
                        "variable_declarator",
                        [self.ident(name.upper(), "name"), self.expr(value, "value")],
                        "declarator",
                    ),
                ],
            )
        ]

    def _stmt_let(self, s: Ir) -> Node:
        return _t(
            "local_variable_declaration",
            [
                self.type_(),
                _t(
                    "variable_declarator",
                    [self.ident(s[1], "name"), self.expr(s[2], "value")],
                    "declarator",
                ),
            ],
        )

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment_expression", [self.expr(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return _t("expression_statement", [self.expr(s[1])])

    def _stmt_if(self, s: Ir, field: str | None = None) -> Node:
        _, cond, then, orelse = s
        kids = [
            _t("parenthesized_expression", [self.expr(cond)], "condition"),
            self.block(then, "consequence"),
        ]
        if orelse:
            kids.append(
                self._stmt_if(orelse[0], "alternative")
                if len(orelse) == 1 and orelse[0][0] == "if"
                else self.block(orelse, "alternative")
            )
        return _t("if_statement", kids, field)

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return _t(
            "enhanced_for_statement",
            [self.type_(), self.ident(var, "name"), self.expr(iterable, "value"), self.block(body)],
        )

    def _stmt_while(self, s: Ir) -> Node:
        cond = _t("parenthesized_expression", [self.expr(s[1])], "condition")
        return _t("while_statement", [cond, self.block(s[2])])

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        groups = [
            _t(
                "switch_block_statement_group",
                [_t("switch_label", [self.expr(v)]), *self.stmts(b), _t("break_statement")],
            )
            for v, b in cases
        ]
        if default:
            groups.append(
                _t(
                    "switch_block_statement_group",
                    [_t("switch_label", text="default"), *self.stmts(default)],
                )
            )
        cond = _t("parenthesized_expression", [self.expr(subject)], "condition")
        return _t("switch_expression", [cond, _t("switch_block", groups, "body")])

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        param = _t(
            "catch_formal_parameter",
            [
                _t(
                    "catch_type",
                    [
                        _t(
                            "type_identifier",
                            text=self.rng.choice(("IOException", "RuntimeException", "Exception")),
                        )
                    ],
                ),
                self.ident(err, "name"),
            ],
        )
        catch = _t("catch_clause", [param, self.block(handler)])
        return _t("try_statement", [self.block(body), catch])

    def _stmt_return(self, s: Ir) -> Node:
        return _t("return_statement", [self.expr(s[1])] if s[1] else None)

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return _t("this", field=field, text="this")

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t("field_access", [self.expr(e[1], "object"), self.ident(e[2], "field")], field)

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        callee = e[1]
        args = _t("argument_list", [self.expr(a) for a in e[2]], "arguments")
        if callee[0] == "attr":
            kids = [self.expr(callee[1], "object"), self.ident(callee[2], "name"), args]
        else:
            kids = [self.ident(callee[1], "name"), args]
        return _t("method_invocation", kids, field)

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        return _t(
            "object_creation_expression",
            [
                _t("type_identifier", field="type", text=e[1]),
                _t("argument_list", [self.expr(a) for a in e[2]], "arguments"),
            ],
            field,
        )

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_expression", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    _expr_cmp = _expr_bin
    _expr_logic = _expr_bin

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        t = (
            "decimal_floating_point_literal"
            if isinstance(e[1], float)
            else ("decimal_integer_literal")
        )
        return _t(t, field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        return _t(
            "lambda_expression", [self.ident(e[1][0], "parameters"), self.expr(e[2], "body")], field
        )

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return _t(
            "ternary_expression",
            [
                self.expr(e[1], "condition"),
                self.expr(e[2], "consequence"),
                self.expr(e[3], "alternative"),
            ],
            field,
        )

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        return self._expr_call(("call", ("attr", ("name", "List"), "of"), e[1]), field)
