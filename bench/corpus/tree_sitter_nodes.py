"""py-tree-sitter nodes (named nodes only, ``field``, leaf ``text``) and the renderer base.

:class:`_Sitter` renders the neutral program as one grammar's nodes; a module per grammar
subclasses it.
"""

import random
from collections.abc import Sequence

from .grow import Node
from .names import _Names
from .program import Ir

_TS_EMPTY_TEXT = {
    "block": "{}", "argument_list": "()", "parameter_list": "()", "parameters": "()",
    "formal_parameters": "()", "arguments": "()", "class_body": "{}", "literal_value": "{}",
    "field_declaration_list": "{}", "declaration_list": "{}", "list": "[]", "token_tree": "()",
    "interface_body": "{}", "statement_list": "", "return_statement": "return",
    "break_statement": "break;", "expression_list": "",
}  # fmt: skip


def _t(
    t: str, kids: list[Node] | None = None, field: str | None = None, text: str | None = None
) -> Node:
    """A tree-sitter node: ``text`` only on nodes without named children, as py-tree-sitter."""
    d: Node = {"type": t}
    if field is not None:
        d["field"] = field
    d["start_point"] = None
    d["end_point"] = None
    if kids:
        d["children"] = kids
    else:
        d["text"] = text if text is not None else _TS_EMPTY_TEXT.get(t, t)
        d["children"] = []
    return d


def _with_field(node: Node, field: str | None) -> Node:
    """``node`` as the child in ``field`` (py-tree-sitter writes ``field`` after ``type``)."""
    d: Node = {"type": node["type"]}
    if field is not None:
        d["field"] = field
    d.update((k, v) for k, v in node.items() if k not in ("type", "field"))
    return d


def _missing(t: str, field: str | None = None) -> Node:
    """A node tree-sitter inserted to recover from a syntax error (zero width)."""
    d: Node = {"type": t}
    if field is not None:
        d["field"] = field
    d.update(start_point=None, end_point=None, missing=True, text="", children=[])
    return d


class _Sitter:
    """Renders the neutral program as one grammar's named nodes. Subclasses per language."""

    lang = ""
    blocks: frozenset[str] = frozenset()
    modules: tuple[str, ...] = ()

    def __init__(self, rng: random.Random, names: _Names) -> None:
        self.rng = rng
        self.names = names

    def imports(self) -> list[Ir]:
        rng = self.rng
        return [
            ("import", rng.choice(self.modules), (self.names.cls(),))
            for _ in range(rng.randint(0, 9))
        ]

    def preamble(self) -> list[Node]:
        return []

    def ident(self, name: str, field: str | None = None) -> Node:
        return _t("identifier", field=field, text=name)

    def item(self, it: Ir) -> list[Node]:
        return getattr(self, "_item_" + it[0])(it)  # type: ignore[no-any-return]

    def stmts(self, body: Sequence[Ir]) -> list[Node]:
        out: list[Node] = []
        for s in body:
            r = getattr(self, "_stmt_" + s[0])(s)
            if r.__class__ is list:
                out.extend(r)
            else:
                out.append(r)
        return out

    def expr(self, e: Ir, field: str | None = None) -> Node:
        return getattr(self, "_expr_" + e[0])(e, field)  # type: ignore[no-any-return]

    def string(self, s: str, field: str | None) -> Node:
        raise NotImplementedError

    # shared expression forms
    def _expr_name(self, e: Ir, field: str | None) -> Node:
        return self.ident(e[1], field)

    def _expr_str(self, e: Ir, field: str | None) -> Node:
        return self.string(e[1], field)

    def _expr_null(self, e: Ir, field: str | None) -> Node:
        return _t(
            {"go": "nil", "rust": "identifier", "java": "null_literal", "python": "none"}[
                self.lang
            ],
            field=field,
            text={"go": "nil", "rust": "None", "java": "null", "python": "None"}[self.lang],
        )

    def _expr_bool(self, e: Ir, field: str | None) -> Node:
        text = {"python": "True" if e[1] else "False"}.get(self.lang, "true" if e[1] else "false")
        if self.lang == "rust":
            return _t("boolean_literal", field=field, text=text)
        return _t(text.lower(), field=field, text=text)

    def _expr_not(self, e: Ir, field: str | None) -> Node:
        t = "not_operator" if self.lang == "python" else "unary_expression"
        return _t(t, [self.expr(e[1], "argument" if self.lang == "python" else "operand")], field)
