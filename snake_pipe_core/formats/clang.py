"""Clang ``-Xclang -ast-dump=json``: ``kind`` is the node type, children live in ``inner``.

``type`` is an object (``{"qualType": …}``) and ``referencedDecl``/``decl`` are references,
so neither is walked. An absent child of a statement is written ``{}`` in ``inner``; it is
counted as a node (an object reachable through ``inner``) of type ``<null>``.
"""

from typing import Any

from .base import AstFormat, Measured, walk_children

__all__ = ["ClangFormat"]

_FUNCTIONS = frozenset(
    {
        "FunctionDecl",
        "CXXMethodDecl",
        "CXXConstructorDecl",
        "CXXDestructorDecl",
        "CXXConversionDecl",
        "LambdaExpr",
        "ObjCMethodDecl",
    }
)
_CLASSES = frozenset({"CXXRecordDecl", "RecordDecl", "ObjCInterfaceDecl"})
# Looked at during the walk: implicit declarations, and && / || (by their opcode).
_NOTED = _FUNCTIONS | {"CXXRecordDecl", "BinaryOperator"}
_BRANCHES = frozenset(
    {
        "IfStmt",
        "ForStmt",
        "CXXForRangeStmt",
        "WhileStmt",
        "DoStmt",
        "CaseStmt",
        "ConditionalOperator",
        "BinaryConditionalOperator",
        "CXXCatchStmt",
    }
)


class ClangFormat(AstFormat):
    """The JSON AST dump of Clang; language C unless the file name says C++."""

    name = "clang"
    type_key = "kind"
    language = "c"
    function_types = _FUNCTIONS
    class_types = _CLASSES
    import_types = frozenset({"ImportDecl"})
    branch_types = _BRANCHES
    priority = 80

    def matches(self, root: dict[str, Any]) -> bool:
        kind = root.get("kind")
        return kind == "TranslationUnitDecl" or (
            isinstance(kind, str) and isinstance(root.get("inner"), list) and "id" in root
        )

    def walk(self, root: dict[str, Any]) -> Measured:
        return walk_children(root, "kind", "inner", null_children=True, note=_NOTED)

    def format_language(self, measured: Measured) -> str | None:
        cxx = ("CXXRecordDecl", "CXXMethodDecl", "NamespaceDecl", "ClassTemplateDecl")
        return "cpp" if any(t in measured.types for t in cxx) else "c"

    def adjust(self, root: dict[str, Any], measured: Measured) -> dict[str, int]:
        """Drop implicit declarations (a class's self-reference, builtins) and add the
        short-circuit operators, which only a node's ``opcode`` reveals."""
        functions = classes = branches = 0
        for node in measured.noted:
            kind = node["kind"]
            if kind == "BinaryOperator":
                if node.get("opcode") in ("&&", "||"):
                    branches += 1
            elif node.get("isImplicit"):
                if kind == "CXXRecordDecl":
                    classes -= 1
                else:
                    functions -= 1
        return {"function_count": functions, "class_count": classes, "branch_count": branches}
