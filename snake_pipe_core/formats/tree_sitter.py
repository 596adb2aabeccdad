"""py-tree-sitter dumps: ``type`` and ``children`` (named nodes only), in an envelope."""

from typing import Any

from .base import AstFormat, Measured, walk_children

__all__ = ["TreeSitterFormat"]

# Node types across the grammars we see (Go, Rust, Java, Python, JS/TS, C/C++, Ruby, C#).
_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "function_definition",
        "function_item",
        "function_signature_item",
        "method_declaration",
        "method_definition",
        "method",
        "constructor_declaration",
        "func_literal",
        "function_expression",
        "arrow_function",
        "generator_function_declaration",
        "lambda",
        "lambda_expression",
        "closure_expression",
        "local_function_statement",
    }
)
_CLASSES = frozenset(
    {
        "class_declaration",
        "class_definition",
        "class_specifier",
        "class",
        "struct_item",
        "struct_specifier",
        "struct_type",
        "interface_declaration",
        "enum_declaration",
        "enum_item",
        "record_declaration",
        "trait_item",
        "union_item",
    }
)
_IMPORTS = frozenset(
    {
        "import_declaration",
        "import_statement",
        "import_from_statement",
        "import_spec",
        "use_declaration",
        "extern_crate_declaration",
        "preproc_include",
        "using_directive",
    }
)
_BRANCHES = frozenset(
    {
        "if_statement",
        "if_expression",
        "if_let_expression",
        "elif_clause",
        "else_if_clause",
        "for_statement",
        "for_in_statement",
        "enhanced_for_statement",
        "for_expression",
        "while_statement",
        "while_expression",
        "do_statement",
        "expression_case",
        "type_case",
        "communication_case",
        "case_clause",
        "switch_case",
        "switch_block_statement_group",
        "switch_rule",
        "match_arm",
        "case_statement",
        "catch_clause",
        "except_clause",
        "conditional_expression",
        "ternary_expression",
        "boolean_operator",
    }
)


class TreeSitterFormat(AstFormat):
    """A tree-sitter tree; its language comes from the envelope or the file name."""

    name = "tree-sitter"
    function_types = _FUNCTIONS
    class_types = _CLASSES
    import_types = _IMPORTS
    branch_types = _BRANCHES
    priority = 70

    def matches(self, root: dict[str, Any]) -> bool:
        return isinstance(root.get("type"), str) and isinstance(root.get("children"), list)

    def walk(self, root: dict[str, Any]) -> Measured:
        return walk_children(root, "type", "children")

    def adjust(self, root: dict[str, Any], measured: Measured) -> dict[str, int]:
        """Go writes one ``import_declaration`` holding an ``import_spec`` per package; count
        the packages, as Java's and Python's one-per-import nodes do."""
        types = measured.types
        if types.get("import_spec") and types.get("import_declaration"):
            return {"import_count": -types["import_declaration"]}
        return {}

    def span(self, root: dict[str, Any]) -> tuple[int | None, int | None]:
        start, end = root.get("start_point"), root.get("end_point")
        if isinstance(start, list) and isinstance(end, list) and start and end:
            return int(start[0]) + 1, int(end[0]) + 1
        return None, None
