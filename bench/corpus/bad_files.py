"""Bad files: one variant per quarantine reason, and the reason snake-pipe owes each."""

import codecs
import random

import orjson

from .document import document
from .grow import _sha
from .kinds import KiB
from .names import _NOUNS

__all__ = ["BAD_VARIANTS", "bad_document"]

BAD_VARIANTS: dict[str, str] = {
    "empty": "empty",
    "blank": "empty",
    "truncated": "invalid_json",
    "array": "not_object",
    "unknown": "unknown_format",
    "latin1": "encoding",
    "utf16": "encoding",
    "no-ast": "schema",
    "untyped-node": "schema",
    "hostile-deep": "too_deep",
}
"""Bad files the generator writes, by variant, with the reason snake-pipe owes them by default.

``truncated``: a writer died mid-file; ``array``: a list of trees; ``unknown``: a coverage
report; ``latin1``: a path written in Latin-1; ``utf16``: a UTF-16 file with its BOM;
``no-ast``: an envelope without ``ast``; ``untyped-node``: a tree-sitter node whose ``type``
is null; ``hostile-deep``: nesting 100,000 levels deep.
"""


def bad_document(variant: str, *, seed: int = 0) -> bytes:
    """The bytes of one bad file; ``BAD_VARIANTS[variant]`` is the reason it deserves."""
    rng = random.Random(f"bad:{variant}:{seed}")
    if variant == "empty":
        return b""
    if variant == "blank":
        return b"\n  \n"
    if variant == "truncated":
        data = document("py-ast", rng.randint(3, 20) * KiB, seed=seed)
        return data[: int(len(data) * rng.uniform(0.3, 0.9))]
    if variant == "array":
        return b"[" + document("js-estree", 2 * KiB, seed=seed) + b"]"
    if variant == "unknown":
        return orjson.dumps(
            {
                "path": f"src/{rng.choice(_NOUNS)}.js",
                "statementMap": {
                    str(i): {
                        "start": {"line": i + 1, "column": 0},
                        "end": {"line": i + 1, "column": 20},
                    }
                    for i in range(20)
                },
                "fnMap": {},
                "branchMap": {},
                "s": {str(i): rng.randint(0, 9) for i in range(20)},
            }
        )
    if variant == "latin1":
        data = document("py-ast", 4 * KiB, seed=seed)
        i = data.index(b'"path":"') + 8
        return data[:i] + b"r\xe9sum\xe9/" + data[i:]
    if variant == "utf16":
        data = document("ts-decl", 3 * KiB, seed=seed)
        return codecs.BOM_UTF16_LE + data.decode("utf-8").encode("utf-16-le")
    if variant == "no-ast":
        return orjson.dumps(
            {
                "language": "go",
                "parser": {
                    "name": "tree-sitter",
                    "version": "0.26.1",
                    "grammar": "tree-sitter-go",
                    "grammar_version": "0.25.0",
                },
                "source": {"path": "cmd/main.go", "sha256": _sha(rng), "size": 0},
            }
        )
    if variant == "untyped-node":
        data = document("go-sitter", 3 * KiB, seed=seed)
        return data.replace(b'{"type":"package_identifier"', b'{"type":null', 1)
    if variant == "hostile-deep":
        return (
            b'{"type":"Program","sourceType":"module","body":'
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}"
        )
    raise ValueError(f"unknown bad variant {variant!r}; expected one of {sorted(BAD_VARIANTS)}")
