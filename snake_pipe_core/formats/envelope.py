"""The envelope some writers put around a tree: who parsed what, and the tree under ``ast``."""

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .base import FormatProblem

__all__ = ["Envelope", "ParserInfo", "SourceInfo", "looks_like_envelope", "open_envelope"]


class ParserInfo(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    name: str
    version: str | None = None
    grammar: str | None = None
    grammar_version: str | None = None


class SourceInfo(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    path: str | None = None
    sha256: str | None = None
    size: int | None = None


class Envelope(BaseModel):
    """``{"language", "parser", "source", "ast"}``; ``ast`` is checked separately."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    language: str | None = None
    parser: ParserInfo | None = None
    source: SourceInfo | None = None


def looks_like_envelope(doc: dict[str, Any]) -> bool:
    return "ast" in doc or ("parser" in doc and "language" in doc)


def open_envelope(doc: dict[str, Any]) -> tuple[Envelope, dict[str, Any]]:
    """Validate the envelope and return it with the tree; raise FormatProblem if invalid."""
    try:
        envelope = Envelope.model_validate({k: v for k, v in doc.items() if k != "ast"})
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()[:5]
        )
        raise FormatProblem(f"envelope: {problems}") from None
    tree = doc.get("ast")
    if not isinstance(tree, dict):
        got = "missing" if tree is None else f"a {type(tree).__name__}"
        raise FormatProblem(f"envelope: 'ast' must be an object, it is {got}")
    return envelope, tree
