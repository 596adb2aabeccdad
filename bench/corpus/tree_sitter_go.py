"""The neutral program as tree-sitter-go nodes."""

from collections.abc import Sequence

from .grow import Node
from .names import _NOUNS, _pascal
from .program import Ir
from .tree_sitter_nodes import _Sitter, _t, _with_field


class _GoSitter(_Sitter):
    lang = "go"
    blocks = frozenset({"statement_list", "field_declaration_list", "import_spec_list"})
    modules = (
        "fmt",
        "strings",
        "errors",
        "context",
        "io",
        "os",
        "sync",
        "time",
        "net/http",
        "encoding/json",
        "github.com/acme/core/internal/store",
        "golang.org/x/sys/unix",
    )

    def imports(self) -> list[Ir]:
        rng = self.rng
        return [("import_group", tuple(rng.sample(self.modules, rng.randint(1, 8))))]

    def preamble(self) -> list[Node]:
        return [_t("package_clause", [_t("package_identifier", text=self.rng.choice(_NOUNS))])]

    def string(self, s: str, field: str | None) -> Node:
        return _t(
            "interpreted_string_literal",
            [_t("interpreted_string_literal_content", text=s)] if s else None,
            field,
            text='""',
        )

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        stmts = self.stmts(body)
        return _t("block", [_t("statement_list", stmts)] if stmts else None, field)

    def params(self, params: Sequence[str], field: str = "parameters") -> Node:
        decls = [
            _t(
                "parameter_declaration",
                [
                    self.ident(p, "name"),
                    _t(
                        "type_identifier",
                        field="type",
                        text=self.rng.choice(("string", "int", "error", "bool", "Options")),
                    ),
                ],
            )
            for p in params
        ]
        return _t("parameter_list", decls, field)

    def _item_import_group(self, it: Ir) -> list[Node]:
        specs = [_t("import_spec", [self.string(m, "path")]) for m in it[1]]
        if len(specs) == 1:
            return [_t("import_declaration", specs)]
        return [_t("import_declaration", [_t("import_spec_list", specs)])]

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, exported, _ = it
        kids = [self.ident(_pascal(name) if exported else name, "name"), self.params(params)]
        if self.rng.random() < 0.6:
            kids.append(_t("type_identifier", field="result", text="error"))
        kids.append(self.block(body))
        return [_t("function_declaration", kids)]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, _base, fields, methods = it
        decls = [
            _t(
                "field_declaration",
                [
                    _t("field_identifier", field="name", text=f),
                    _t("type_identifier", field="type", text="string"),
                ],
            )
            for f, _ in fields
        ]
        struct = _t("struct_type", [_t("field_declaration_list", decls)], "type")
        out = [
            _t(
                "type_declaration",
                [_t("type_spec", [_t("type_identifier", field="name", text=name), struct])],
            )
        ]
        for _, m, params, body in methods:
            receiver = _t(
                "parameter_list",
                [
                    _t(
                        "parameter_declaration",
                        [
                            self.ident("s", "name"),
                            _t("pointer_type", [_t("type_identifier", text=name)], "type"),
                        ],
                    )
                ],
                "receiver",
            )
            out.append(
                _t(
                    "method_declaration",
                    [
                        receiver,
                        _t("field_identifier", field="name", text=_pascal(m)),
                        self.params(params),
                        self.block(body),
                    ],
                )
            )
        return out

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        spec = _t(
            "var_spec",
            [self.ident(name, "name"), _t("expression_list", [self.expr(value)], "value")],
        )
        return [_t("var_declaration", [spec])]

    def _stmt_let(self, s: Ir) -> Node:
        return _t(
            "short_var_declaration",
            [
                _t("expression_list", [self.ident(s[1])], "left"),
                _t("expression_list", [self.expr(s[2])], "right"),
            ],
        )

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "assignment_statement",
            [
                _t("expression_list", [self.expr(s[1])], "left"),
                _t("expression_list", [self.expr(s[2])], "right"),
            ],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return _t("expression_statement", [self.expr(s[1])])

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        kids = [self.expr(cond, "condition"), self.block(then, "consequence")]
        if orelse:
            if len(orelse) == 1 and orelse[0][0] == "if":
                kids.append(_with_field(self._stmt_if(orelse[0]), "alternative"))
            else:
                kids.append(self.block(orelse, "alternative"))
        return _t("if_statement", kids)

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        clause = _t(
            "range_clause",
            [
                _t("expression_list", [self.ident("_"), self.ident(var)], "left"),
                self.expr(iterable, "right"),
            ],
        )
        return _t("for_statement", [clause, self.block(body)])

    def _stmt_while(self, s: Ir) -> Node:
        return _t("for_statement", [self.expr(s[1], "condition"), self.block(s[2])])

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        kids = [self.expr(subject, "value")]
        for value, body in cases:
            stmts = self.stmts(body)
            kids.append(
                _t(
                    "expression_case",
                    [
                        _t("expression_list", [self.expr(value)], "value"),
                        *([_t("statement_list", stmts)] if stmts else []),
                    ],
                )
            )
        if default:
            kids.append(_t("default_case", [_t("statement_list", self.stmts(default))]))
        return _t("expression_switch_statement", kids)

    def _stmt_try(self, s: Ir) -> list[Node]:
        _, body, err, handler = s
        init = _t(
            "short_var_declaration",
            [
                _t("expression_list", [self.ident(err)], "left"),
                _t(
                    "expression_list",
                    [self.expr(("call", ("name", self.names.func()), []))],
                    "right",
                ),
            ],
            "initializer",
        )
        cond = _t(
            "binary_expression",
            [self.ident(err, "left"), _t("nil", field="right", text="nil")],
            "condition",
        )
        ret = _t("return_statement", [_t("expression_list", [self.ident(err)])])
        check = _t(
            "if_statement",
            [
                init,
                cond,
                _t("block", [_t("statement_list", [*self.stmts(handler), ret])], "consequence"),
            ],
        )
        return [*self.stmts(body), check]

    def _stmt_return(self, s: Ir) -> Node:
        if s[1] is None:
            return _t("return_statement")
        return _t("return_statement", [_t("expression_list", [self.expr(s[1])])])

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return self.ident("s", field)

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t(
            "selector_expression",
            [self.expr(e[1], "operand"), _t("field_identifier", field="field", text=_pascal(e[2]))],
            field,
        )

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        args = _t("argument_list", [self.expr(a) for a in e[2]], "arguments")
        return _t("call_expression", [self.expr(e[1], "function"), args], field)

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        return self._expr_call(("call", ("name", "New" + e[1]), e[2]), field)

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_expression", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    _expr_cmp = _expr_bin
    _expr_logic = _expr_bin

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        t = "float_literal" if isinstance(e[1], float) else "int_literal"
        return _t(t, field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        ret = _t("return_statement", [_t("expression_list", [self.expr(e[2])])])
        return _t(
            "func_literal",
            [self.params(e[1]), _t("block", [_t("statement_list", [ret])], "body")],
            field,
        )

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return self.expr(e[2], field)  # Go has no conditional expression

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        elems = [_t("literal_element", [self.expr(x)]) for x in e[1]]
        slice_ = _t("slice_type", [_t("type_identifier", field="element", text="any")], "type")
        return _t("composite_literal", [slice_, _t("literal_value", elems, "body")], field)
