"""CPython's ``ast`` dumped as JSON (``_type`` on every node), inside an envelope."""

from typing import Any

from .base import AstFormat

__all__ = ["PythonAstFormat"]


class PythonAstFormat(AstFormat):
    """``{"_type": "Module", …}``; fields holding nodes or lists of nodes are children."""

    name = "python-ast"
    type_key = "_type"
    language = "python"
    function_types = frozenset({"FunctionDef", "AsyncFunctionDef", "Lambda"})
    class_types = frozenset({"ClassDef"})
    import_types = frozenset({"Import", "ImportFrom"})
    branch_types = frozenset(
        {
            "If",
            "IfExp",
            "For",
            "AsyncFor",
            "While",
            "ExceptHandler",
            "BoolOp",
            "comprehension",
            "match_case",
            "Assert",
        }
    )
    priority = 80

    def matches(self, root: dict[str, Any]) -> bool:
        return isinstance(root.get("_type"), str)

    def span(self, root: dict[str, Any]) -> tuple[int | None, int | None]:
        body = root.get("body")
        if isinstance(body, list) and body and isinstance(body[0], dict):
            last = body[-1] if isinstance(body[-1], dict) else {}
            return body[0].get("lineno"), last.get("end_lineno")
        return None, None
