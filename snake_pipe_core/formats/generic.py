"""A configurable format for any object tree with a recognisable node-type key.

Users describe their parser's output in the configuration (type key, where children are,
which node types are functions, classes, imports and branches); with no configuration a
catch-all instance accepts a root carrying one of the common type keys.
"""

from typing import Any

from .base import AstFormat, Measured, walk_all_fields, walk_children

__all__ = ["COMMON_TYPE_KEYS", "GenericFormat"]

COMMON_TYPE_KEYS = ("type", "kind", "nodeType", "node_type", "_type")


class GenericFormat(AstFormat):
    """A format defined by configuration rather than code."""

    def __init__(
        self,
        *,
        name: str = "generic",
        type_key: str | None = None,
        children_key: str | None = None,
        root_types: frozenset[str] | None = None,
        language: str | None = None,
        function_types: frozenset[str] = frozenset(),
        class_types: frozenset[str] = frozenset(),
        import_types: frozenset[str] = frozenset(),
        branch_types: frozenset[str] = frozenset(),
        priority: int = 10,
    ) -> None:
        self.name = name
        # None: detect the first of COMMON_TYPE_KEYS on the root.
        self.fixed_type_key = type_key
        self.children_key = children_key
        self.root_types = root_types
        self.language = language
        self.function_types = function_types
        self.class_types = class_types
        self.import_types = import_types
        self.branch_types = branch_types
        self.priority = priority

    def _type_key(self, root: dict[str, Any]) -> str | None:
        if self.fixed_type_key is not None:
            return self.fixed_type_key if isinstance(root.get(self.fixed_type_key), str) else None
        return next((k for k in COMMON_TYPE_KEYS if isinstance(root.get(k), str)), None)

    def matches(self, root: dict[str, Any]) -> bool:
        key = self._type_key(root)
        if key is None:
            return False
        return self.root_types is None or root[key] in self.root_types

    def walk(self, root: dict[str, Any]) -> Measured:
        key = self._type_key(root) or "type"
        if self.children_key is None:
            return walk_all_fields(root, key)
        return walk_children(root, key, self.children_key)
