"""AST format plug-ins and the registry that recognises which format a document is.

Built-in formats are always present; third-party formats register a subclass of
:class:`AstFormat` under the ``snake_pipe.formats`` entry-point group, e.g. in their
``pyproject.toml``::

    [project.entry-points."snake_pipe.formats"]
    mytool = "mypkg.formats:MyToolFormat"
"""

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from .base import AstFormat, FormatProblem, Measured, source_line
from .clang import ClangFormat
from .envelope import Envelope, looks_like_envelope, open_envelope
from .estree import BabelFormat, EstreeFormat
from .generic import GenericFormat
from .python_ast import PythonAstFormat
from .tree_sitter import TreeSitterFormat

__all__ = [
    "ENTRY_POINT_GROUP",
    "AstFormat",
    "Envelope",
    "FormatProblem",
    "FormatRegistry",
    "GenericFormat",
    "Measured",
    "builtin_formats",
    "looks_like_envelope",
    "open_envelope",
    "source_line",
]

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "snake_pipe.formats"


def builtin_formats() -> list[AstFormat]:
    return [
        BabelFormat(),
        EstreeFormat(),
        ClangFormat(),
        PythonAstFormat(),
        TreeSitterFormat(),
        GenericFormat(),
    ]


def _plugin_formats(known: set[str]) -> list[AstFormat]:
    found: list[AstFormat] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in known:
            continue  # our own formats, registered for discoverability
        try:
            cls = ep.load()
            fmt = cls()
        except Exception:  # a broken plug-in must not stop ingestion of everything else
            log.exception("could not load AST format plug-in %r (%s)", ep.name, ep.value)
            continue
        if isinstance(fmt, AstFormat):
            found.append(fmt)
        else:
            log.error("plug-in %r is not an AstFormat subclass; ignored", ep.name)
    return found


class FormatRegistry:
    """Formats by priority; ``detect`` returns the first that matches a root."""

    def __init__(self, formats: Iterable[AstFormat]) -> None:
        self.formats = sorted(formats, key=lambda f: -f.priority)
        self.by_name = {f.name: f for f in self.formats}

    @classmethod
    def default(cls, extra: Iterable[AstFormat] = (), *, plugins: bool = True) -> "FormatRegistry":
        """Built-ins, then ``extra`` (configured generic formats), then entry-point plug-ins."""
        formats = builtin_formats() + list(extra)
        if plugins:
            formats += _plugin_formats({f.name for f in formats})
        return cls(formats)

    def detect(self, root: dict[str, Any]) -> AstFormat | None:
        for fmt in self.formats:
            if fmt.matches(root):
                return fmt
        return None
