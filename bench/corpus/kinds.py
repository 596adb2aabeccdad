"""Kinds of AST files (which tool wrote them, for which language, how big) and size profiles."""

import math
import random
from dataclasses import dataclass

__all__ = ["KINDS", "PROFILES", "KiB", "Kind", "MiB"]

KiB = 1024
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of AST file: which tool wrote it, for which language, how big it tends to be.

    Attributes:
        name: the kind's name, e.g. ``"ts-decl"``.
        format: the snake-pipe format that must recognise it.
        language: the source language snake-pipe should report.
        extensions: source extensions; the AST file is named ``<source path>.ast.json``.
        median_kb: median size in the realistic profile.
        sigma: log-normal shape of the realistic sizes (how long the tail is).
        weight: share of files in the realistic mix.
        min_bytes: the smallest document worth writing (its skeleton plus a unit or two).
    """

    name: str
    format: str
    language: str
    extensions: tuple[str, ...]
    median_kb: float
    sigma: float
    weight: float
    min_bytes: int


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("js-estree", "estree", "javascript", (".js", ".mjs"), 18, 1.1, 0.10, 900),
        Kind("js-babel", "babel", "javascript", (".js", ".jsx"), 60, 1.2, 0.08, 1500),
        Kind("ts-estree", "estree", "typescript", (".ts", ".tsx"), 28, 1.1, 0.14, 1800),
        Kind("ts-decl", "estree", "typescript", (".d.ts",), 3, 0.9, 0.08, 1100),
        Kind("c-clang", "clang", "c", (".c",), 480, 0.9, 0.06, 7000),
        Kind("cpp-clang", "clang", "cpp", (".cpp", ".cc"), 900, 1.0, 0.04, 9000),
        Kind("py-ast", "python-ast", "python", (".py",), 40, 1.1, 0.16, 900),
        Kind("go-sitter", "tree-sitter", "go", (".go",), 60, 1.1, 0.12, 900),
        Kind("rust-sitter", "tree-sitter", "rust", (".rs",), 50, 1.1, 0.08, 900),
        Kind("java-sitter", "tree-sitter", "java", (".java",), 45, 1.0, 0.08, 1200),
        Kind("py-sitter", "tree-sitter", "python", (".py",), 40, 1.1, 0.06, 900),
    )
}
"""Every kind the generator writes, by name."""

PROFILES = ("realistic", "small", "large")
"""``realistic``: the per-kind size mix; ``small``: every file a few KB (file-count scale
tests); ``large``: files of tens of MB."""


def _target_size(profile: str, kind: Kind, rng: random.Random, max_bytes: int) -> int:
    if profile == "realistic":
        size = rng.lognormvariate(math.log(kind.median_kb * KiB), kind.sigma)
    elif profile == "small":
        size = min(rng.lognormvariate(math.log(3 * KiB), 0.35), 8 * KiB)
    elif profile == "large":
        size = max(rng.lognormvariate(math.log(20 * MiB), 0.45), 8 * MiB)
    else:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    return int(min(max(size, kind.min_bytes), max(max_bytes, kind.min_bytes)))
