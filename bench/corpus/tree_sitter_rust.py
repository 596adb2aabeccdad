"""The neutral program as tree-sitter-rust nodes."""

from collections.abc import Sequence

from .grow import Node
from .program import Ir
from .tree_sitter_nodes import _Sitter, _t, _with_field


class _RustSitter(_Sitter):
    lang = "rust"
    blocks = frozenset({"block", "declaration_list", "field_declaration_list", "match_block"})
    modules = (
        "std::collections",
        "std::sync",
        "std::io",
        "serde",
        "crate::error",
        "crate::config",
        "tokio::sync",
        "anyhow",
        "std::fmt",
        "crate::store",
    )

    def string(self, s: str, field: str | None) -> Node:
        return _t("string_literal", [_t("string_content", text=s)] if s else None, field, text='""')

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        return _t("block", self.stmts(body), field)

    def path(self, module: str, field: str | None = None) -> Node:
        parts = module.split("::")
        node = _t("crate", text="crate") if parts[0] == "crate" else self.ident(parts[0])
        for p in parts[1:]:
            node = _t("scoped_identifier", [_with_field(node, "path"), self.ident(p, "name")])
        return _with_field(node, field)

    def _item_import(self, it: Ir) -> list[Node]:
        _, module, names = it
        if len(names) == 1:
            return [_t("use_declaration", [self.path(module + "::" + names[0], "argument")])]
        use_list = _t("use_list", [self.ident(n) for n in names], "list")
        return [
            _t(
                "use_declaration",
                [_t("scoped_use_list", [self.path(module, "path"), use_list], "argument")],
            )
        ]

    def params(self, params: Sequence[str], self_: bool = False) -> Node:
        kids = [_t("self_parameter", [_t("self", text="self")])] if self_ else []
        kids += [
            _t(
                "parameter",
                [
                    self.ident(p, "pattern"),
                    _t(
                        "primitive_type",
                        field="type",
                        text=self.rng.choice(("usize", "u32", "bool", "i64")),
                    ),
                ],
            )
            for p in params
        ]
        return _t("parameters", kids, "parameters")

    def function(
        self, name: str, params: Sequence[str], body: Sequence[Ir], pub: bool, self_: bool = False
    ) -> Node:
        kids = [_t("visibility_modifier", text="pub")] if pub else []
        kids += [self.ident(name, "name"), self.params(params, self_)]
        if self.rng.random() < 0.5:
            kids.append(_t("type_identifier", field="return_type", text="Result"))
        kids.append(self.block(body))
        return _t("function_item", kids)

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, exported, _ = it
        return [self.function(name, params, body, exported)]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, _base, fields, methods = it
        derive = _t(
            "attribute_item",
            [
                _t(
                    "attribute",
                    [
                        self.ident("derive"),
                        _t("token_tree", [self.ident("Debug"), self.ident("Clone")], "arguments"),
                    ],
                )
            ],
        )
        decls = [
            _t(
                "field_declaration",
                [
                    _t("field_identifier", field="name", text=f),
                    _t("type_identifier", field="type", text="String"),
                ],
            )
            for f, _ in fields
        ]
        struct = _t(
            "struct_item",
            [
                _t("visibility_modifier", text="pub"),
                _t("type_identifier", field="name", text=name),
                _t("field_declaration_list", decls, "body"),
            ],
        )
        fns = [self.function(m, p, b, True, self_=True) for _, m, p, b in methods]
        impl = _t(
            "impl_item",
            [_t("type_identifier", field="type", text=name), _t("declaration_list", fns, "body")],
        )
        return [derive, struct, impl]

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        return [
            _t(
                "const_item",
                [
                    self.ident(name.upper(), "name"),
                    _t("primitive_type", field="type", text="usize"),
                    self.expr(value, "value"),
                ],
            )
        ]

    def _stmt_let(self, s: Ir) -> Node:
        return _t("let_declaration", [self.ident(s[1], "pattern"), self.expr(s[2], "value")])

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment_expression", [self.expr(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        if self.rng.random() < 0.15:
            return _t(
                "expression_statement",
                [
                    _t(
                        "macro_invocation",
                        [
                            self.ident("println", "macro"),
                            _t("token_tree", [self.string("{}", None)]),
                        ],
                    )
                ],
            )
        return _t("expression_statement", [self.expr(s[1])])

    def _if(self, s: Ir, field: str | None = None) -> Node:
        _, cond, then, orelse = s
        kids = [self.expr(cond, "condition"), self.block(then, "consequence")]
        if orelse:
            inner = (
                self._if(orelse[0])
                if len(orelse) == 1 and orelse[0][0] == "if"
                else (self.block(orelse, None))
            )
            kids.append(_t("else_clause", [inner], "alternative"))
        return _t("if_expression", kids, field)

    def _stmt_if(self, s: Ir) -> Node:
        return _t("expression_statement", [self._if(s)])

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return _t(
            "expression_statement",
            [
                _t(
                    "for_expression",
                    [self.ident(var, "pattern"), self.expr(iterable, "value"), self.block(body)],
                )
            ],
        )

    def _stmt_while(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("while_expression", [self.expr(s[1], "condition"), self.block(s[2])])],
        )

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        arms = [
            _t(
                "match_arm",
                [_t("match_pattern", [self.expr(v)], "pattern"), self.block(b, "value")],
            )
            for v, b in cases
        ]
        if default:
            arms.append(
                _t(
                    "match_arm",
                    [_t("match_pattern", field="pattern", text="_"), self.block(default, "value")],
                )
            )
        return _t(
            "expression_statement",
            [
                _t(
                    "match_expression",
                    [self.expr(subject, "value"), _t("match_block", arms, "body")],
                )
            ],
        )

    def _stmt_try(self, s: Ir) -> list[Node]:
        _, body, err, _handler = s  # `?` propagates the error: no handler in Rust
        call = self.expr(("call", ("name", self.names.func()), []))
        let = _t(
            "let_declaration", [self.ident(err, "pattern"), _t("try_expression", [call], "value")]
        )
        return [let, *self.stmts(body)]

    def _stmt_return(self, s: Ir) -> Node:
        kids = [self.expr(s[1])] if s[1] else None
        return _t("expression_statement", [_t("return_expression", kids, text="return")])

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return _t("self", field=field, text="self")

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t(
            "field_expression",
            [self.expr(e[1], "value"), _t("field_identifier", field="field", text=e[2])],
            field,
        )

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        return _t(
            "call_expression",
            [
                self.expr(e[1], "function"),
                _t("arguments", [self.expr(a) for a in e[2]], "arguments"),
            ],
            field,
        )

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        callee = _t(
            "scoped_identifier",
            [_t("identifier", field="path", text=e[1]), self.ident("new", "name")],
            "function",
        )
        return _t(
            "call_expression",
            [callee, _t("arguments", [self.expr(a) for a in e[2]], "arguments")],
            field,
        )

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_expression", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    _expr_cmp = _expr_bin
    _expr_logic = _expr_bin

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        t = "float_literal" if isinstance(e[1], float) else "integer_literal"
        return _t(t, field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        ps = _t("closure_parameters", [self.ident(p) for p in e[1]], "parameters")
        return _t("closure_expression", [ps, self.expr(e[2], "body")], field)

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return _t(
            "if_expression",
            [
                self.expr(e[1], "condition"),
                _t("block", [self.expr(e[2])], "consequence"),
                _t("else_clause", [_t("block", [self.expr(e[3])])], "alternative"),
            ],
            field,
        )

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        return _t(
            "macro_invocation",
            [self.ident("vec", "macro"), _t("token_tree", [self.expr(x) for x in e[1]])],
            field,
        )
