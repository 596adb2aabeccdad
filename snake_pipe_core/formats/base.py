"""The contract of an AST format plug-in, and the one-pass walks that measure a tree.

A format recognises its root, knows its node-type key and where children are, and names the
node types that count as functions, classes, imports and branches. Measuring is one iterative,
level-by-level walk (never recursion: real trees are tens of thousands of levels deep) that
collects every node's type; the counts are then read off the type histogram, which keeps the
per-node work to a couple of C-level operations.
"""

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from ..models import AstMetadata, Reason

__all__ = [
    "COUNT_NAMES",
    "NULL_CHILD",
    "AstFormat",
    "FormatProblem",
    "Measured",
    "source_line",
    "walk_all_fields",
    "walk_children",
]


class FormatProblem(Exception):
    """The document is JSON but not a valid tree of this format (a ``schema`` verdict)."""

    def __init__(self, detail: str, reason: Reason = Reason.SCHEMA) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Measured(NamedTuple):
    """Raw figures of one walk: the type of every node, the deepest node path, and the nodes
    of the types a format asked to look at more closely (``noted``). (A tuple: the native
    path makes one a file, a third of a frozen dataclass's cost.)"""

    types: Mapping[str, int]  # a Counter, or the native scanner's plain dict
    max_depth: int
    noted: tuple[dict[str, Any], ...] = ()


# The counts read off a type histogram, in the order of :meth:`AstFormat.counts`.
COUNT_NAMES = ("function_count", "class_count", "import_count", "branch_count")


def source_line(value: object) -> int | None:
    """A source line as the store keeps it (a 32-bit integer column), or None: a tree that
    records something else there (a list, a float, ``true``, a number beyond two billion)
    has no span we can trust. Both paths, the native scanner's included, go through here."""
    if type(value) is int and -(2**31) <= value < 2**31:
        return value
    return None


def walk_all_fields(root: Any, type_key: str) -> Measured:
    """Walk a tree whose children are *any* field holding an object or a list of objects
    (ESTree, Babel, Python ``ast``). A node is an object whose ``type_key`` holds a string;
    objects without it (``loc``, ``extra``…) are looked through without adding depth.

    Every value is pushed with one C-level ``extend`` and sorted out when it comes up
    (scalars are skipped then): cheaper than testing each value before pushing it."""
    types: list[str] = []
    add = types.append
    depth = 0
    level: list[Any] = [root]
    while level:
        nxt: list[Any] = []
        deeper = nxt.extend
        same = level.extend  # look-through containers stay on this level
        had_node = False
        for obj in level:  # `level` grows while iterated: that is intended
            cls = obj.__class__
            if cls is dict:
                t = obj.get(type_key)
                if t.__class__ is str:
                    add(t)
                    had_node = True
                    deeper(obj.values())
                else:
                    same(obj.values())
            elif cls is list:
                same(obj)
        if had_node:
            depth += 1
        level = nxt
    return Measured(Counter(types), depth)


NULL_CHILD = "<null>"


def walk_children(
    root: Any,
    type_key: str,
    children_key: str,
    *,
    null_children: bool = False,
    note: frozenset[str] = frozenset(),
) -> Measured:
    """Walk a tree whose children are only in ``children_key`` (Clang ``inner``, tree-sitter
    ``children``), validating that every node is an object with a string type and that
    children are lists of objects.

    With ``null_children``, an empty object is a node of type ``<null>``: Clang writes ``{}``
    for a statement's absent child (a ``for`` without a condition variable), and counts it
    among its children. Nodes whose type is in ``note`` are kept in ``Measured.noted``, so a
    format can look at their fields without walking the tree a second time."""
    types: list[str] = []
    add = types.append
    noted: list[dict[str, Any]] = []
    keep = noted.append
    depth = 0
    level: list[Any] = [root]
    while level:
        depth += 1
        nxt: list[Any] = []
        extend = nxt.extend
        for node in level:
            try:
                t = node[type_key]
                kids = node.get(children_key)
            except KeyError:
                if null_children and node == {}:
                    add(NULL_CHILD)
                    continue
                raise FormatProblem(_bad_node(node, type_key, depth)) from None
            except (TypeError, AttributeError):
                raise FormatProblem(_bad_node(node, type_key, depth)) from None
            if t.__class__ is not str:
                raise FormatProblem(_bad_node(node, type_key, depth))
            add(t)
            if t in note:
                keep(node)
            if kids:
                if kids.__class__ is not list:
                    raise FormatProblem(
                        f"{t!s} node at depth {depth}: {children_key!r} must be a list, "
                        f"got {type(kids).__name__}"
                    )
                extend(kids)
        level = nxt
    return Measured(Counter(types), depth, tuple(noted))


def _bad_node(node: Any, type_key: str, depth: int) -> str:
    if not isinstance(node, dict):
        return f"child at depth {depth} is a {type(node).__name__}, expected an object"
    if type_key not in node:
        return f"node at depth {depth} has no {type_key!r} key"
    return f"node at depth {depth}: {type_key!r} must be a string"


class AstFormat:
    """Base class of format plug-ins. Subclasses set the class variables and ``matches``.

    Register a plug-in of your own under the ``snake_pipe.formats`` entry-point group.
    """

    name: str
    type_key: str = "type"
    # Language when neither an envelope nor the file name says; None: unknown.
    language: str | None = None
    function_types: frozenset[str] = frozenset()
    class_types: frozenset[str] = frozenset()
    import_types: frozenset[str] = frozenset()
    branch_types: frozenset[str] = frozenset()
    # Higher is tried first; specific formats before generic ones.
    priority: int = 50

    def matches(self, root: dict[str, Any]) -> bool:
        """True if ``root`` (the AST root, envelope removed) is a tree of this format."""
        raise NotImplementedError

    def walk(self, root: dict[str, Any]) -> Measured:
        """Validate and measure the tree in one pass; raise FormatProblem if invalid."""
        return walk_all_fields(root, self.type_key)

    def format_language(self, measured: Measured) -> str | None:
        return self.language

    def span(self, root: dict[str, Any]) -> tuple[int | None, int | None]:
        """First and last source line, when the tree records them."""
        return None, None

    def adjust(self, root: dict[str, Any], measured: Measured) -> dict[str, int]:
        """Corrections to the histogram-derived counts (e.g. implicit declarations)."""
        return {}

    def measure(
        self,
        root: dict[str, Any],
        *,
        declared_language: str | None = None,
        parser_name: str | None = None,
        parser_version: str | None = None,
        source_path: str | None = None,
    ) -> AstMetadata:
        """One pass: validate, walk, and derive the metadata of this tree."""
        m = self.walk(root)
        types = m.types
        functions, classes, imports, branches = self.counts(types, self.adjust(root, m))
        start, end = (source_line(v) for v in self.span(root))
        return AstMetadata(
            format=self.name,
            declared_language=declared_language,
            format_language=self.format_language(m),
            parser_name=parser_name,
            parser_version=parser_version,
            node_count=sum(types.values()),
            max_depth=m.max_depth,
            function_count=functions,
            class_count=classes,
            import_count=imports,
            branch_count=branches,
            source_path=source_path,
            span_start_line=start,
            span_end_line=end,
            node_types=orjson.dumps(types, option=orjson.OPT_SORT_KEYS),
        )

    def counts(
        self, types: Mapping[str, int], adjust: Mapping[str, int]
    ) -> tuple[int, int, int, int]:
        """Functions, classes, imports and branches, read off the type histogram with this
        format's type sets (:attr:`roles`) and corrected by ``adjust`` (see :meth:`adjust`).
        The one definition both paths use: the native scanner reads the histogram with the
        same :attr:`roles` and corrects with :meth:`adjusted`. Whichever of the histogram and
        the map of counted types is smaller is the one looked through."""
        roles = self.roles
        counts = [0, 0, 0, 0]
        if len(types) <= len(roles):
            for t, n in types.items():
                for i in roles.get(t, ()):
                    counts[i] += n
        else:
            for t, where in roles.items():
                if t in types:
                    for i in where:
                        counts[i] += types[t]
        return self.adjusted(counts, adjust)

    @staticmethod
    def adjusted(counts: Sequence[int], adjust: Mapping[str, int]) -> tuple[int, int, int, int]:
        """Counts read off a histogram, corrected by ``adjust`` (never below zero)."""
        fixed = list(counts)
        for k, delta in adjust.items():
            i = COUNT_NAMES.index(k)
            fixed[i] = max(0, fixed[i] + delta)
        return fixed[0], fixed[1], fixed[2], fixed[3]

    @functools.cached_property
    def roles(self) -> dict[str, tuple[int, ...]]:
        """Node type -> the counts (indexes into :data:`COUNT_NAMES`) it adds to; made once."""
        roles: dict[str, tuple[int, ...]] = {}
        sets = (self.function_types, self.class_types, self.import_types, self.branch_types)
        for i, types in enumerate(sets):
            for t in types:
                roles[t] = (*roles.get(t, ()), i)
        return roles
