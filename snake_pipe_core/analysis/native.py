"""The fast path: the native one-pass scanner (``_scanner.c``) and what it measures, as metadata.

The scanner validates and measures a document without a Python object per node. It answers
*ok* with raw figures (the node-type histogram, depth, span, envelope fields), or *reject* /
*unsure*; for anything but *ok* the caller runs the pure-Python path, which stays the
reference: a bad file's reason and detail (line, column) are the reference's own, and rare
shapes the scanner does not model (duplicate keys, escaped keys, plug-in formats...) are
decided there too. Here the raw figures become :class:`AstMetadata` with the formats' own
type sets and rules, so both paths count with the same definitions.

The extension is optional: built by ``pip install`` when a C compiler is present. Without it
(or with ``SNAKE_PIPE_SCANNER=off``) the Python path runs, after one notice saying how to get
the fast path. ``SNAKE_PIPE_SCANNER=/path/to/_scanner.so`` loads another build of it (CI's
AddressSanitizer build).
"""

import hashlib
import importlib.machinery
import importlib.util
import logging
import multiprocessing
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from ..formats import (
    AstFormat,
    FormatRegistry,
    GenericFormat,
    Measured,
    source_line,
)
from ..formats.clang import ClangFormat
from ..formats.estree import BabelFormat, EstreeFormat
from ..formats.python_ast import PythonAstFormat
from ..formats.tree_sitter import TreeSitterFormat
from ..languages import normalise_language
from ..models import AstMetadata, FileVerdict

__all__ = ["NativeScanner", "native_status", "scanner_module"]

log = logging.getLogger(__name__)

_SOURCE = Path(__file__).with_name("_scanner.c")
BUILD_HINT = (
    "install a C compiler and Python's headers (Debian: apt-get install gcc python3-dev) and "
    "run `pip install -e .` again (./quickstart.sh does it)"
)
# The root keys the scanner always records, in the order _scanner.c expects them.
_FIXED_KEYS = (
    "type", "kind", "_type", "nodeType", "node_type", "program", "inner", "children", "id",
    "body", "loc", "start_point", "end_point",
)  # fmt: skip
_KINDS: dict[type[AstFormat], int] = {
    BabelFormat: 0,
    EstreeFormat: 1,
    ClangFormat: 2,
    PythonAstFormat: 3,
    TreeSitterFormat: 4,
    GenericFormat: 5,
}
_OPAQUE = 6
_NOTED_EXTRA = frozenset({"CXXRecordDecl", "BinaryOperator"})


def _load() -> tuple[ModuleType | None, str]:
    """The extension module, or None and why not."""
    choice = os.environ.get("SNAKE_PIPE_SCANNER", "")
    if choice.lower() in ("off", "0", "python"):
        return None, "SNAKE_PIPE_SCANNER=off"
    try:
        if choice:
            loader = importlib.machinery.ExtensionFileLoader(f"{__package__}._scanner", choice)
            spec = importlib.util.spec_from_file_location(loader.name, choice, loader=loader)
            assert spec is not None
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
        else:
            module = importlib.import_module(f"{__package__}._scanner")
    except ImportError as e:
        return None, f"the native scanner is not built ({e})"
    built_from = getattr(module, "SOURCE_SHA256", "")
    if built_from and _SOURCE.is_file():
        if hashlib.sha256(_SOURCE.read_bytes()).hexdigest() != built_from:
            return None, f"the native scanner is older than its source {_SOURCE.name}"
    return module, ""


_module, _why_not = _load()


def scanner_module() -> ModuleType | None:
    return _module


def native_status() -> str:
    """``native`` or why the pure-Python path runs."""
    return "native" if _module is not None else _why_not


_noticed = False


def _notice() -> None:
    """One notice per run (not per worker process) when the fast path is missing."""
    global _noticed
    if _noticed or _why_not.startswith("SNAKE_PIPE_SCANNER") or multiprocessing.parent_process():
        return
    _noticed = True
    log.warning(
        "snake-pipe analyses with its pure-Python path: %s. For the native scanner "
        "(several times faster), %s.",
        _why_not,
        BUILD_HINT,
    )


_Spec = tuple[int, int, int, tuple[str, ...] | None, dict[str, int] | None]


def _spec(fmt: AstFormat, keys: list[str]) -> _Spec:
    """How the scanner detects and measures ``fmt``: its kind, its keys, its root types, and
    which counts a node of each counted type adds to (as bits: 1 << index in COUNT_NAMES)."""

    def key(name: str | None) -> int:
        if name is None:
            return -1
        if name not in keys:
            keys.append(name)
        return keys.index(name)

    kind = _KINDS.get(type(fmt))
    if kind is None:
        return (_OPAQUE, -1, -1, None, None)
    roles = {t: sum(1 << i for i in where) for t, where in fmt.roles.items()}
    if isinstance(fmt, GenericFormat):
        roots = tuple(sorted(fmt.root_types)) if fmt.root_types is not None else None
        return (kind, key(fmt.fixed_type_key), key(fmt.children_key), roots, roles)
    return (kind, -1, -1, None, roles)


class NativeScanner:
    """The scanner compiled for one registry (its formats, in detection order)."""

    def __init__(self, module: ModuleType, registry: FormatRegistry, max_depth: int) -> None:
        keys = list(_FIXED_KEYS)
        self.formats = list(registry.formats)
        specs = tuple(_spec(f, keys) for f in self.formats)
        self._scan = module.scan
        self._plan = module.make_plan(tuple(keys), specs)
        self._ok = module.OK
        self.max_depth = max_depth

    @classmethod
    def for_registry(cls, registry: FormatRegistry, max_depth: int) -> "NativeScanner | None":
        if _module is None:
            _notice()
            return None
        if len(registry.formats) > 64:
            return None
        return cls(_module, registry, max_depth)

    def scan(self, data: bytes) -> tuple[Any, ...]:
        """The raw answer of the scanner (see ``_scanner.c``)."""
        result: tuple[Any, ...] = self._scan(data, self._plan, self.max_depth)
        return result

    def analyze(
        self, data: bytes, path: str, size: int, mtime_ns: int, digest: str
    ) -> FileVerdict | None:
        """The verdict when the scanner is sure the file is valid; None otherwise (the
        reference path decides)."""
        r = self._scan(data, self._plan, self.max_depth)
        if r[0] != self._ok:
            return None
        try:
            meta = self.metadata(r)
        except Exception:  # e.g. a node type orjson cannot write: the reference says what
            return None
        if meta is None:
            return None
        return FileVerdict(path, size, mtime_ns, digest, meta.format, meta)

    def metadata(self, r: tuple[Any, ...]) -> AstMetadata | None:
        """The scanner's figures as metadata, derived exactly as ``AstFormat.measure`` does:
        the scanner read the counts off the histogram with the format's own
        :attr:`AstFormat.roles`, and they are corrected here by the same
        :meth:`AstFormat.adjust`."""
        (_, index, _type_key, max_depth, hist, (start, end), env, implicit, logical, nodes,
         counts, node_types) = r  # fmt: skip
        fmt = self.formats[index]
        declared = parser_name = parser_version = source_path = None
        if env is not None:
            language, parser_name, parser_version, source_path = env
            declared = normalise_language(language)
        measured = Measured(hist, max_depth)  # a dict: all formats read it as one
        if type(fmt) is ClangFormat:
            counts = fmt.adjusted(counts, _clang_adjust(fmt, implicit, logical))
        elif type(fmt) is TreeSitterFormat:
            counts = fmt.adjusted(counts, fmt.adjust({}, measured))  # reads the histogram only
        functions, classes, imports, branches = counts
        if node_types is None:  # a node type with a lone surrogate: orjson says why not
            node_types = orjson.dumps(hist, option=orjson.OPT_SORT_KEYS)
        return AstMetadata(
            fmt.name,
            declared,
            fmt.format_language(measured),
            parser_name,
            parser_version,
            nodes,
            max_depth,
            functions,
            classes,
            imports,
            branches,
            source_path,
            source_line(start),
            source_line(end),
            node_types,
        )


def _clang_adjust(
    fmt: AstFormat, implicit: dict[str, int], logical: dict[str, int]
) -> dict[str, int]:
    """``ClangFormat.adjust`` from per-type counts of the noted nodes: implicit declarations
    are dropped, ``&&``/``||`` operators added."""
    functions = sum(
        n for t, n in implicit.items() if t in fmt.function_types and t not in _NOTED_EXTRA
    )
    return {
        "function_count": -functions,
        "class_count": -implicit.get("CXXRecordDecl", 0),
        "branch_count": logical.get("BinaryOperator", 0),
    }
