"""ESTree (acorn, espree, typescript-estree) and Babel (``File`` root)."""

from typing import Any

from .base import AstFormat, FormatProblem, Measured

__all__ = ["BabelFormat", "EstreeFormat"]

_FUNCTIONS = frozenset(
    {
        "FunctionDeclaration",
        "FunctionExpression",
        "ArrowFunctionExpression",
        "TSDeclareFunction",
        # Babel writes methods as their own nodes instead of MethodDefinition + FunctionExpression
        "ObjectMethod",
        "ClassMethod",
        "ClassPrivateMethod",
        "TSDeclareMethod",
    }
)
_CLASSES = frozenset({"ClassDeclaration", "ClassExpression"})
_IMPORTS = frozenset({"ImportDeclaration", "ImportExpression", "TSImportEqualsDeclaration"})
_BRANCHES = frozenset(
    {
        "IfStatement",
        "ConditionalExpression",
        "SwitchCase",
        "ForStatement",
        "ForInStatement",
        "ForOfStatement",
        "WhileStatement",
        "DoWhileStatement",
        "CatchClause",
        "LogicalExpression",
    }
)


def _loc_lines(node: dict[str, Any]) -> tuple[int | None, int | None]:
    loc = node.get("loc")
    if isinstance(loc, dict):
        start, end = loc.get("start"), loc.get("end")
        if isinstance(start, dict) and isinstance(end, dict):
            return start.get("line"), end.get("line")
    return None, None


class EstreeFormat(AstFormat):
    """ESTree ``Program`` roots: acorn, espree, typescript-estree (``TS*`` node types)."""

    name = "estree"
    language = "javascript"
    function_types = _FUNCTIONS
    class_types = _CLASSES
    import_types = _IMPORTS
    branch_types = _BRANCHES
    priority = 80

    def matches(self, root: dict[str, Any]) -> bool:
        return root.get("type") == "Program"

    def walk(self, root: dict[str, Any]) -> Measured:
        if not isinstance(root.get("body"), list):
            raise FormatProblem("ESTree Program has no 'body' list")
        return super().walk(root)

    def format_language(self, measured: Measured) -> str | None:
        # typescript-estree output is ESTree plus TS* node types. (A loop: ``any()`` over a
        # generator costs three times as much, on every JavaScript file.)
        for t in measured.types:
            if t.startswith("TS"):
                return "typescript"
        return self.language

    def span(self, root: dict[str, Any]) -> tuple[int | None, int | None]:
        return _loc_lines(root)


class BabelFormat(EstreeFormat):
    """@babel/parser output: a ``File`` wrapping a ``Program``, comments attached to nodes."""

    name = "babel"
    priority = 90

    def matches(self, root: dict[str, Any]) -> bool:
        return root.get("type") == "File" and "program" in root

    def walk(self, root: dict[str, Any]) -> Measured:
        program = root.get("program")
        if not isinstance(program, dict) or program.get("type") != "Program":
            raise FormatProblem("Babel File has no 'program' object of type Program")
        if not isinstance(program.get("body"), list):
            raise FormatProblem("Babel Program has no 'body' list")
        return AstFormat.walk(self, root)
