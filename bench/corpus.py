"""Realistic AST JSON corpora: what snake-pipe reads, at the scale and with the accidents it meets.

Unit-test fixtures are small and tidy; real repositories of AST JSON are neither. This module
writes repositories whose files have the shapes the real tools write (``shared/samples``), their
sizes, their depths and their accidents, so that benchmarks and scale tests exercise the code
paths production does.

What is modelled, and why:

* **Formats.** acorn ESTree (``start``/``end``/``loc``); @babel/parser (``File`` root,
  ``extra``, ``loc`` with ``index``, comments attached to nodes *and* listed on the ``File``);
  typescript-estree (``range``/``loc``, ``TS*`` nodes, ``comments``, optional ``tokens``);
  ``clang -ast-dump=json`` for C and C++ (pretty-printed with two spaces, implicit builtin
  typedefs first, header declarations before the main file's, ``type`` as an object,
  ``referencedDecl``/``decl`` references, ``loc``/``range`` that omit the ``file`` and ``line``
  that did not change, ``{}`` for the null children of a ``for``); CPython ``ast`` in an
  envelope (marker strings for the constants JSON cannot hold, escaped lone surrogates in a few
  files); py-tree-sitter dumps in an envelope for Go, Rust, Java and Python (named nodes only,
  ``field``, leaf ``text``, occasional ``ERROR`` and ``missing`` nodes).
* **Programs, not noise.** Each document renders a small random program (imports, functions,
  classes, ``if``/``for``/``while``/``switch``/``try``, calls, operators, literals) through a
  language-neutral intermediate form, so snake-pipe's function, class, import and branch counts
  mean something in every format.
* **Sizes.** Per-kind log-normal sizes, medians from ~3 KB (``.d.ts``) to hundreds of KB (Clang
  translation units), with a tail up to ``max_file_mb``. A document grows one top-level unit at a
  time (each unit serialised once, its size measured), until it reaches its target: targets are
  met within a few percent without re-serialising the document. Most of a translation unit is
  its headers, so Clang documents reuse a pool of prebuilt header blocks, as real TUs repeat them.
* **Depth.** A share of Go files holds an operator chain over 14,000 levels deep, written as
  text (``json.dumps`` recurses).
* **The repository.** Paths mirror source trees (``<source path>.ast.json``); identical contents
  recur under other paths (``.d.ts``/``.d.cts`` pairs, vendored copies); on request, bad files
  (one variant per quarantine reason), non-AST JSON and editor temp files.
* **Speed.** Documents are built from plain dicts and serialised unit by unit with ``orjson``
  (tens of MB/s); the ``small`` profile varies a pool of prebuilt documents per kind (a new
  path, ``sha256`` and renamed identifier per file, so contents stay unique), which makes
  millions of files a matter of minutes: the file system is then the bottleneck.

Clang writes ``{}`` for a loop's null children; readers that take every element of ``inner``
for a node reject such trees (snake-pipe did, as ``schema``). ``clang_null_children=False``
writes loops without them, to compare with such readers.

Everything derives from one seed (``random.Random``): the same arguments write byte-identical
files. Entry points: :func:`generate` (a repository), :func:`document`, :func:`deep_go_document`
and :func:`bad_document` (one document's bytes), and the CLI ``python -m bench.corpus``.
"""

import argparse
import base64
import codecs
import math
import os
import random
import re
import sys
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "BAD_VARIANTS",
    "KINDS",
    "PROFILES",
    "CorpusStats",
    "Kind",
    "bad_document",
    "deep_go_document",
    "document",
    "generate",
    "main",
]

Node = dict[str, Any]
Ir = tuple[Any, ...]

KiB = 1024
MiB = 1024 * 1024

# --------------------------------------------------------------------------------------------
# Kinds of AST files and the size profiles


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


# --------------------------------------------------------------------------------------------
# Names

_NOUNS = (
    "user", "item", "value", "data", "config", "result", "buffer", "node", "list", "state",
    "event", "handler", "request", "response", "token", "cache", "index", "count", "size", "key",
    "name", "path", "file", "stream", "source", "target", "error", "context", "options", "queue",
    "task", "worker", "timer", "record", "entry", "field", "schema", "parser", "writer", "reader",
    "client", "server", "session", "message", "payload", "batch", "chunk", "frame", "offset",
    "limit", "mode", "level", "group", "child", "parent", "root", "tree", "action", "subscriber",
    "observer", "subject", "store", "model", "view", "route", "query", "filter", "format", "hash",
    "lock", "pool", "signal", "channel", "socket", "port", "host", "window", "delay", "schedule",
)  # fmt: skip
_VERBS = (
    "get", "set", "create", "build", "make", "update", "delete", "remove", "add", "find", "load",
    "save", "parse", "render", "handle", "process", "validate", "check", "compute", "resolve",
    "apply", "init", "reset", "close", "open", "read", "write", "send", "emit", "subscribe",
    "dispatch", "transform", "convert", "merge", "flush", "register", "visit", "collect", "map",
    "reduce", "notify", "encode", "decode", "wrap", "drain",
)  # fmt: skip
_PHRASES = (
    "unexpected end of input", "value out of range", "done", "retrying", "connection closed",
    "invalid argument", "not found", "timeout", "ok", "starting worker", "%s: %d", "", "utf-8",
    "application/json", "Content-Type", "café", "naïve", "→ next", "über",
)  # fmt: skip
_ASCII_PHRASES = tuple(p for p in _PHRASES if p.isascii())


class _Names:
    """Identifiers in a language's style, drawn from a small vocabulary."""

    __slots__ = ("rng", "snake")

    def __init__(self, rng: random.Random, *, snake: bool) -> None:
        self.rng = rng
        self.snake = snake

    def _join(self, words: Sequence[str]) -> str:
        if self.snake:
            return "_".join(words)
        return words[0] + "".join(w.capitalize() for w in words[1:])

    def var(self) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return self._join((rng.choice(_NOUNS), rng.choice(_NOUNS)))
        return rng.choice(_NOUNS)

    def func(self) -> str:
        rng = self.rng
        return self._join((rng.choice(_VERBS), rng.choice(_NOUNS)))

    def cls(self) -> str:
        rng = self.rng
        words = (
            (rng.choice(_NOUNS), rng.choice(_NOUNS))
            if rng.random() < 0.6
            else (rng.choice(_NOUNS),)
        )
        return "".join(w.capitalize() for w in words)

    def attr(self) -> str:
        return self.var() if self.rng.random() < 0.6 else self.func()


def _pascal(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in name.split("_"))


# --------------------------------------------------------------------------------------------
# The language-neutral program: items, statements and expressions as tuples
#
# items:  ("import", module, names) ("import_group", modules) ("func", name, params, body,
#         exported, is_async) ("class", name, base, fields, methods) ("var", name, expr, exported)
#         ("interface", name, members, methods) ("alias", name, options) ("declare", name, params)
# stmts:  ("let", name, expr) ("set", target, expr) ("expr", expr) ("if", cond, body, orelse)
#         ("for", var, iterable, body) ("while", cond, body) ("switch", subject, cases, default)
#         ("try", body, err, handler) ("return", expr | None)
# exprs:  ("name", id) ("this",) ("attr", obj, name) ("call", callee, args) ("new", cls, args)
#         ("bin" | "cmp" | "logic", op, left, right) ("not", e) ("str", s) ("num", n)
#         ("bool", b) ("null",) ("lambda", params, body) ("cond", test, a, b) ("list", elems)

_ARITH = ("+", "-", "*", "/", "%", "+", "+")
_CMP = ("<", ">", "<=", ">=", "==", "!=")


class _Program:
    """Random programs in the neutral form, grown one top-level item at a time.

    ``size`` is a number of statements: the document builders ask for items of a size that fits
    the bytes still missing, and learn how many bytes a statement costs in their format.
    """

    def __init__(
        self,
        rng: random.Random,
        names: _Names,
        *,
        imports: Sequence[Ir] = (),
        classes: bool = True,
        types: bool = False,
        declarations: bool = False,
        unicode: bool = True,
        max_depth: int = 2,
    ) -> None:
        self.rng = rng
        self.max_depth = max_depth
        self.names = names
        self.pending = list(imports)
        self.classes = classes
        self.types = types
        self.declarations = declarations
        self.phrases = _PHRASES if unicode else _ASCII_PHRASES
        self.scope: list[str] = ["value", "options"]
        self.functions: list[str] = []

    # items

    def item(self, size: int) -> tuple[Ir, int]:
        if self.pending:
            return self.pending.pop(0), 1
        rng = self.rng
        if size <= 0:  # the smallest item there is
            if self.declarations:
                return ("declare", self.names.func(), ()), 1
            return ("var", self.names.var(), self.atom(), False), 1
        if self.declarations:
            return self._declaration(size)
        r = rng.random()
        if self.types and r < 0.1:
            return self._interface(size)
        if self.classes and size >= 5 and r < 0.35:
            return self._class(size), size
        if size <= 1 and r < 0.6:
            return ("var", self.names.var(), self.expr(1), rng.random() < 0.3), 1
        name = self.names.func()
        params = tuple(self.names.var() for _ in range(rng.randint(0, 3)))
        body = self.body(size, 1)
        self.functions.append(name)
        return ("func", name, params, body, rng.random() < 0.4, rng.random() < 0.1), size

    def _class(self, size: int) -> Ir:
        rng = self.rng
        n_methods = max(1, min(size // 4, rng.randint(2, 12)))
        per = max(1, size // n_methods)
        fields = tuple((self.names.var(), self.expr(2)) for _ in range(rng.randint(0, 4)))
        methods = []
        for _ in range(n_methods):
            params = tuple(self.names.var() for _ in range(rng.randint(0, 3)))
            methods.append(("method", self.names.func(), params, self.body(per, 1)))
        base = self.names.cls() if rng.random() < 0.3 else None
        return ("class", self.names.cls(), base, fields, tuple(methods))

    def _interface(self, size: int) -> tuple[Ir, int]:
        rng = self.rng
        if rng.random() < 0.3:
            options = tuple(rng.choice(_NOUNS) for _ in range(rng.randint(2, 6)))
            return ("alias", self.names.cls(), options), 1
        members = tuple(
            (self.names.var(), rng.random() < 0.3) for _ in range(rng.randint(1, 2 + size))
        )
        methods = tuple(
            (self.names.func(), tuple(self.names.var() for _ in range(rng.randint(0, 2))))
            for _ in range(rng.randint(0, 1 + size // 2))
        )
        return ("interface", self.names.cls(), members, methods), max(1, size // 2)

    def _declaration(self, size: int) -> tuple[Ir, int]:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return self._interface(size)
        if r < 0.8:
            params = tuple(self.names.var() for _ in range(rng.randint(0, 3)))
            return ("declare", self.names.func(), params), 1
        methods = tuple(
            (
                "method",
                self.names.func(),
                tuple(self.names.var() for _ in range(rng.randint(0, 2))),
                None,
            )
            for _ in range(rng.randint(1, 1 + size))
        )
        fields = tuple((self.names.var(), None) for _ in range(rng.randint(0, 3)))
        base = self.names.cls() if rng.random() < 0.3 else None
        return ("class", self.names.cls(), base, fields, methods), max(1, size)

    # statements

    def body(self, size: int, depth: int) -> list[Ir]:
        out: list[Ir] = []
        while size > 0:
            s, used = self.stmt(size, depth)
            out.append(s)
            size -= used
        if depth == 1 and self.rng.random() < 0.5:
            out.append(("return", self.expr(1)))
        return out

    def stmt(self, size: int, depth: int) -> tuple[Ir, int]:
        rng = self.rng
        if size >= 3 and depth < 5 and rng.random() < 0.4:
            return self._compound(size, depth)
        r = rng.random()
        if r < 0.36:
            name = self.names.var()
            value = self._chain() if rng.random() < 0.01 else self.expr(0)
            self.scope.append(name)
            if len(self.scope) > 24:
                del self.scope[:8]
            return ("let", name, value), 1
        if r < 0.78:
            return ("expr", self.call(0)), 1
        if r < 0.93:
            target = ("attr", ("this",), self.names.var()) if rng.random() < 0.5 else self.ref()
            return ("set", target, self.expr(0)), 1
        return ("return", self.expr(0) if rng.random() < 0.8 else None), 1

    def _compound(self, size: int, depth: int) -> tuple[Ir, int]:
        rng = self.rng
        inner = rng.randint(1, min(size - 1, 10))
        k = rng.random()
        d = depth + 1
        if k < 0.42:
            orelse = None
            if inner >= 2 and rng.random() < 0.45:
                a = rng.randint(1, inner - 1)
                then = self.body(inner - a, d)
                orelse = (
                    [self._compound(a + 1, d)[0]]
                    if a >= 2 and rng.random() < 0.3
                    else (self.body(a, d))
                )
            else:
                then = self.body(inner, d)
            return ("if", self.cond(), then, orelse), inner + 1
        if k < 0.62:
            var = self.names.var()
            return ("for", var, self.ref(), self.body(inner, d)), inner + 1
        if k < 0.7:
            return ("while", self.cond(), self.body(inner, d)), inner + 1
        if k < 0.82:
            n = max(1, min(inner, rng.randint(2, 5)))
            per = max(1, inner // n)
            cases = [(self.atom_literal(), self.body(per, d)) for _ in range(n)]
            default = self.body(1, d) if rng.random() < 0.6 else None
            return ("switch", self.ref(), cases, default), inner + 1
        handler = self.body(max(1, inner // 3), d)
        return ("try", self.body(inner, d), "err", handler), inner + 1

    # expressions

    def ref(self) -> Ir:
        return ("name", self.rng.choice(self.scope))

    def atom_literal(self) -> Ir:
        rng = self.rng
        if rng.random() < 0.5:
            return ("num", rng.choice((0, 1, 2, 3, 4, 8, 16, 42, 100, 255, 1024)))
        return ("str", rng.choice(_NOUNS))

    def atom(self) -> Ir:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return self.ref()
        if r < 0.75:
            return ("str", rng.choice(self.phrases) if rng.random() < 0.5 else rng.choice(_NOUNS))
        if r < 0.9:
            return ("num", rng.choice((0, 1, 2, 10, 60, 100, 1000, 3, 0.5, -1)))
        if r < 0.95:
            return ("bool", rng.random() < 0.5)
        return ("null",)

    def callee(self) -> Ir:
        rng = self.rng
        r = rng.random()
        if r < 0.3 and self.functions:
            return ("name", rng.choice(self.functions))
        if r < 0.75:
            obj = ("this",) if rng.random() < 0.3 else self.ref()
            return ("attr", obj, self.names.func())
        return ("name", self.names.func())

    def call(self, depth: int) -> Ir:
        n = self.rng.choice((0, 1, 1, 2, 2, 3))
        return ("call", self.callee(), [self.expr(depth + 1) for _ in range(n)])

    def cond(self) -> Ir:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return ("cmp", rng.choice(_CMP), self.ref(), self.atom())
        if r < 0.65:
            return ("logic", rng.choice(("&&", "||")), self.cond_simple(), self.cond_simple())
        if r < 0.8:
            return ("not", self.cond_simple())
        return self.cond_simple()

    def cond_simple(self) -> Ir:
        if self.rng.random() < 0.5:
            return self.ref()
        return ("call", self.callee(), [self.ref()])

    def expr(self, depth: int) -> Ir:
        rng = self.rng
        r = rng.random()
        if depth >= self.max_depth or r < 0.3:  # most are shallow; chains make deep ones
            return self.atom()
        d = depth + 1
        if r < 0.52:
            return self.call(depth)
        if r < 0.64:
            return ("attr", self.ref() if rng.random() < 0.6 else ("this",), self.names.var())
        if r < 0.76:
            return ("bin", rng.choice(_ARITH), self.expr(d), self.expr(d))
        if r < 0.82:
            return ("cmp", rng.choice(_CMP), self.expr(d), self.expr(d))
        if r < 0.86:
            return ("logic", rng.choice(("&&", "||")), self.expr(d), self.expr(d))
        if r < 0.89:
            return ("cond", self.cond(), self.expr(d), self.expr(d))
        if r < 0.92 and depth < 2:
            return ("lambda", (self.names.var(),), self.expr(d + 1))
        if r < 0.95:
            return ("list", [self.expr(d) for _ in range(rng.randint(0, 4))])
        if r < 0.98:
            return ("new", self.names.cls(), [self.expr(d) for _ in range(rng.randint(0, 2))])
        return ("not", self.expr(d))

    def _chain(self) -> Ir:
        """A long operator chain (string building, generated tables): deep left-nested trees."""
        rng = self.rng
        e: Ir = ("str", rng.choice(_NOUNS))
        for _ in range(rng.randint(8, 40)):
            e = ("bin", "+", e, self.atom() if rng.random() < 0.5 else ("str", rng.choice(_NOUNS)))
        return e


# --------------------------------------------------------------------------------------------
# Growing a document to a target size

_SENTINEL = "@@UNITS@@"
_SENTINEL_B = b'"@@UNITS@@"'


class _Cursor:
    """A position in the (virtual) source text: byte offset, 1-based line, 0-based column."""

    __slots__ = ("col", "line", "offset")

    def __init__(self) -> None:
        # Every statement starts with a newline: the first one lands on line 1, offset 0.
        self.offset = -1
        self.line = 0
        self.col = 0

    def newline(self, indent: int) -> None:
        self.offset += 1 + indent
        self.line += 1
        self.col = indent

    def skip(self, n: int) -> None:
        self.offset += n
        self.col += n

    def state(self) -> tuple[int, int, int]:
        return self.offset, self.line, self.col

    def restore(self, s: tuple[int, int, int]) -> None:
        self.offset, self.line, self.col = s


class _Doc:
    """A document under construction: a skeleton plus top-level units, each serialised once.

    Subclasses render a unit of about ``size`` statements in :meth:`unit` (appending its bytes
    to ``units``) and assemble the document in :meth:`finish`.
    """

    bps = 1000.0  # first guess of bytes per statement; learned while growing
    max_size = 40

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cur = _Cursor()
        self.units: list[bytes] = []

    def overhead(self) -> int:
        return 400

    def mark(self) -> tuple[Any, ...]:
        return self.cur.state(), len(self.units)

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]

    def unit(self, size: int) -> tuple[int, int]:
        """Render one unit; return (bytes added, statements used)."""
        raise NotImplementedError

    def finish(self) -> bytes:
        raise NotImplementedError


def _grow(doc: _Doc, target: int) -> bytes:
    """Add units to ``doc`` until it is about ``target`` bytes, and return its bytes.

    The size of a unit is chosen from the bytes still missing and the learned cost of a
    statement; a unit that would overshoot is taken back and replaced by a smaller one, or
    dropped when stopping short is closer to the target.
    """
    total = doc.overhead()
    bps = doc.bps
    slack = max(200, target // 25)
    stalled = 0
    while total < target and stalled < 50:
        remaining = target - total
        size = max(1, min(doc.max_size, int(remaining / bps)))
        m = doc.mark()
        added, used = doc.unit(size)
        tries = 0
        while total + added > target + slack and not (size == 0 and tries > 4):
            doc.reset(m)  # too big: a smaller unit, another small one, then the smallest
            if size > 1:
                size = max(1, size // 3)
            else:
                tries += 1
                size = 0 if tries >= 3 else 1
            added, used = doc.unit(size)
        if total + added > target + slack and total + added - target > remaining:
            doc.reset(m)
            break
        if added == 0:
            stalled += 1
            continue
        total += added + 1
        bps = 0.7 * bps + 0.3 * (added / max(1, used))
    return doc.finish()


def _splice(skeleton: bytes, *parts: bytes) -> bytes:
    """Put already serialised parts in place of the skeleton's sentinels, in order."""
    out: list[bytes] = []
    rest = skeleton
    for part in parts:
        head, _, rest = rest.partition(_SENTINEL_B)
        out.append(head)
        out.append(part)
    out.append(rest)
    return b"".join(out)


def _cap_imports(imports: list[Ir], target: int) -> list[Ir]:
    """Small files import little: at most one import per 2.5 KB of document."""
    cap = target // 2500
    if len(imports) == 1 and imports[0][0] == "import_group":
        return [("import_group", imports[0][1][:cap])]
    return imports[:cap]


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


# --------------------------------------------------------------------------------------------
# ESTree family: acorn, @babel/parser, typescript-estree

# Source width of a node's first token, for positions (keywords and punctuation).
_JS_PREFIX = {
    "ReturnStatement": 7, "IfStatement": 4, "ForOfStatement": 5, "ForStatement": 5,
    "WhileStatement": 6, "SwitchStatement": 7, "TryStatement": 4, "CatchClause": 6,
    "FunctionDeclaration": 9, "FunctionExpression": 9, "VariableDeclaration": 6,
    "ImportDeclaration": 7, "ExportNamedDeclaration": 7, "ClassDeclaration": 6,
    "NewExpression": 4, "ThrowStatement": 6, "ThisExpression": 4, "SwitchCase": 5,
    "BreakStatement": 6, "TSInterfaceDeclaration": 10, "TSTypeAliasDeclaration": 5,
    "TSDeclareFunction": 17, "TSStringKeyword": 6, "TSNumberKeyword": 6, "TSAnyKeyword": 3,
    "TSBooleanKeyword": 7, "TSUnknownKeyword": 7, "TSVoidKeyword": 4, "TSUndefinedKeyword": 9,
}  # fmt: skip
_JS_KEYWORDS = {
    "ReturnStatement": "return", "IfStatement": "if", "ForOfStatement": "for",
    "ForStatement": "for", "WhileStatement": "while", "SwitchStatement": "switch",
    "TryStatement": "try", "FunctionDeclaration": "function", "VariableDeclaration": "const",
    "ImportDeclaration": "import", "ExportNamedDeclaration": "export", "ClassDeclaration": "class",
    "TSInterfaceDeclaration": "interface", "TSTypeAliasDeclaration": "type",
}  # fmt: skip
_JS_BLOCKS = frozenset({"body", "consequent", "cases"})  # lists whose elements start lines
_JS_SKIP = frozenset({"leadingComments", "trailingComments", "comments", "tokens"})
_TS_KEYWORD_TYPES = (
    "TSStringKeyword", "TSNumberKeyword", "TSBooleanKeyword", "TSAnyKeyword", "TSUnknownKeyword",
)  # fmt: skip
_JS_MODULES = (
    "./util", "./types", "../internal/util", "../operators/map", "./config", "rxjs", "react",
    "lodash", "tslib", "../scheduler/async", "./errors", "node:fs", "node:path", "events",
)  # fmt: skip


class _JsDoc(_Doc):
    """An ESTree document in one of three dialects: ``acorn``, ``babel`` or ``ts``."""

    max_size = 30

    def __init__(
        self,
        rng: random.Random,
        dialect: str,
        *,
        declarations: bool = False,
        tokens: bool = False,
        locations: bool = True,
        target: int = 1 << 30,
    ) -> None:
        super().__init__(rng)
        self.babel = dialect == "babel"
        self.ts = dialect == "ts"
        self.declarations = declarations
        self.locations = locations
        self.bps = {"acorn": 800.0, "babel": 1100.0, "ts": 1000.0}[dialect]
        if declarations:
            self.bps = 500.0
        names = _Names(rng, snake=False)
        imports = [
            (
                "import",
                rng.choice(_JS_MODULES),
                tuple(names.func() for _ in range(rng.randint(0, 3))),
            )
            for _ in range(rng.randint(0, 8 if not declarations else 2))
        ]
        self.program = _Program(
            rng,
            names,
            imports=_cap_imports(imports, target),
            types=self.ts,
            declarations=declarations,
        )
        self.comments: list[Node] = []
        self.comment_bytes: list[bytes] = []
        self.tokens: list[Node] | None = [] if tokens and self.ts else None
        self.token_bytes: list[bytes] = []
        if self.ts:
            self.setpos = self._pos_ts
        elif self.babel:
            self.setpos = self._pos_babel
        else:
            self.setpos = self._pos_acorn if locations else self._pos_offsets

    # positions

    @staticmethod
    def _pos_acorn(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["start"] = s[0]
        n["end"] = c.offset
        n["loc"] = {
            "start": {"line": s[1], "column": s[2]},
            "end": {"line": c.line, "column": c.col},
        }

    @staticmethod
    def _pos_offsets(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["start"] = s[0]
        n["end"] = c.offset
        del n["loc"]

    @staticmethod
    def _pos_babel(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["start"] = s[0]
        n["end"] = c.offset
        loc: Node = {
            "start": {"line": s[1], "column": s[2], "index": s[0]},
            "end": {"line": c.line, "column": c.col, "index": c.offset},
        }
        if n["type"] == "Identifier":
            loc["identifierName"] = n["name"]
        n["loc"] = loc

    @staticmethod
    def _pos_ts(n: Node, s: tuple[int, int, int], c: _Cursor) -> None:
        n["range"] = [s[0], c.offset]
        n["loc"] = {
            "end": {"column": c.col, "line": c.line},
            "start": {"column": s[2], "line": s[1]},
        }

    def _token(self, kind: str, value: str, s: tuple[int, int, int]) -> None:
        assert self.tokens is not None
        tok: Node = {"type": kind, "loc": None, "range": None, "value": value}
        self.setpos(tok, s, self.cur)
        self.tokens.append(tok)

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        """Give ``node`` and its subtree source positions, in source order."""
        cur = self.cur
        if stmt:
            if "leadingComments" in node:
                self._layout_comments(node, indent)
            cur.newline(indent)
        s = cur.state()
        self._first_token(node, s)
        for k, v in node.items():
            if k in _JS_SKIP:
                continue
            cls = v.__class__
            if cls is dict:
                if "type" in v:
                    self.layout(v, indent, False)
                    cur.skip(1)
            elif cls is list and v:
                if k in _JS_BLOCKS:
                    for x in v:
                        self.layout(x, indent + 2, True)
                    cur.newline(indent)
                else:
                    for x in v:
                        if x.__class__ is dict and "type" in x:
                            self.layout(x, indent, False)
                            cur.skip(2)
        if stmt and self.tokens is not None:
            p = cur.state()
            cur.skip(1)
            self._token("Punctuator", ";", p)
        self.setpos(node, s, cur)

    def _layout_comments(self, node: Node, indent: int) -> None:
        """Leading comments take lines of their own; typescript-estree only lists them."""
        comments = node.pop("leadingComments") if self.ts else node["leadingComments"]
        cur = self.cur
        for c in comments:
            cur.newline(indent)
            s = cur.state()
            cur.skip(len(c["value"]) + 4)
            self.setpos(c, s, cur)
            self.comments.append(c)

    def _first_token(self, node: Node, s: tuple[int, int, int]) -> None:
        """Step over a node's first token: a leaf's text, or a keyword or punctuation."""
        cur = self.cur
        tokens = self.tokens
        t = node["type"]
        if t == "Identifier":
            cur.skip(len(node["name"]))
            if tokens is not None:
                self._token("Identifier", node["name"], s)
        elif "raw" in node:
            cur.skip(len(node["raw"]))
            if tokens is not None:
                self._token("String" if node["raw"][:1] in "'\"" else "Numeric", node["raw"], s)
        elif "extra" in node and "raw" in node["extra"]:
            cur.skip(len(node["extra"]["raw"]))
        else:
            cur.skip(_JS_PREFIX.get(t, 1))
            if tokens is not None and t in _JS_KEYWORDS:
                self._token("Keyword", _JS_KEYWORDS[t], s)

    # the document

    def overhead(self) -> int:
        return 260 if self.babel else 160

    def mark(self) -> tuple[Any, ...]:
        p = self.program
        tokens = len(self.tokens) if self.tokens is not None else 0
        return (
            self.cur.state(),
            len(self.units),
            len(self.comments),
            len(self.comment_bytes),
            tokens,
            len(self.token_bytes),
            len(p.functions),
        )

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]
        del self.comments[m[2] :]
        del self.comment_bytes[m[3] :]
        if self.tokens is not None:
            del self.tokens[m[4] :]
        del self.token_bytes[m[5] :]
        del self.program.functions[m[6] :]

    def unit(self, size: int) -> tuple[int, int]:
        it, used = self.program.item(size)
        node = self.item(it)
        n_comments = len(self.comments)
        n_tokens = len(self.tokens) if self.tokens is not None else 0
        self.layout(node, 0, True)
        data = orjson.dumps(node)
        self.units.append(data)
        added = len(data)
        if not self.ts and not self.babel:
            return added, used
        for c in self.comments[n_comments:]:
            b = orjson.dumps(c)
            self.comment_bytes.append(b)
            added += len(b) + 1
        if self.tokens is not None:
            for tok in self.tokens[n_tokens:]:
                b = orjson.dumps(tok)
                self.token_bytes.append(b)
                added += len(b) + 1
        return added, used

    def _root_loc(self) -> tuple[Any, Any]:
        c = self.cur
        if self.ts:
            return [0, c.offset], {
                "end": {"column": c.col, "line": c.line},
                "start": {"column": 0, "line": 1},
            }
        index = self.babel
        start: Node = {"line": 1, "column": 0}
        end: Node = {"line": c.line, "column": c.col}
        if index:
            start["index"] = 0
            end["index"] = c.offset
        return None, {"start": start, "end": end}

    def finish(self) -> bytes:
        body = b",".join(self.units)
        c = self.cur
        rng_, loc = self._root_loc()
        if self.ts:
            root: Node = {
                "type": "Program",
                "range": rng_,
                "body": [_SENTINEL],
                "comments": [_SENTINEL],
                "sourceType": "module",
                "loc": loc,
            }
            parts = [body, b",".join(self.comment_bytes)]
            if self.tokens is not None:
                root["tokens"] = [_SENTINEL]
                parts.append(b",".join(self.token_bytes))
            return _splice(orjson.dumps(root), *parts)
        if self.babel:
            tail = self._source_map_comment()
            if tail and self.units:  # attached to the last statement too, as Babel does
                last = self.units[-1]
                body = b",".join(
                    [*self.units[:-1], last[:-1] + b',"trailingComments":[' + tail[0] + b"]}"]
                )
            program = {
                "type": "Program",
                "start": 0,
                "end": c.offset,
                "loc": loc,
                "sourceType": "module",
                "interpreter": None,
                "body": [_SENTINEL],
                "directives": [],
                "extra": {"topLevelAwait": False},
            }
            file = {
                "type": "File",
                "start": 0,
                "end": c.offset,
                "loc": loc,
                "errors": [],
                "program": program,
                "comments": [_SENTINEL],
            }
            return _splice(orjson.dumps(file), body, b",".join([*self.comment_bytes, *tail]))
        root = {
            "type": "Program",
            "start": 0,
            "end": c.offset,
            "loc": loc,
            "body": [_SENTINEL],
            "sourceType": "module",
        }
        if not self.locations:
            del root["loc"]
        return _splice(orjson.dumps(root), body)

    def _source_map_comment(self) -> list[bytes]:
        """Bundled output ends with ``//# sourceMappingURL=…`` (listed, as Babel does)."""
        if self.rng.random() < 0.5:
            return []
        c: Node = {
            "type": "CommentLine",
            "value": "# sourceMappingURL=index.js.map",
            "start": 0,
            "end": 0,
            "loc": None,
        }
        self.cur.newline(0)
        s = self.cur.state()
        self.cur.skip(len(c["value"]) + 2)
        self.setpos(c, s, self.cur)
        return [orjson.dumps(c)]

    # nodes

    def n(self, t: str, f: Node) -> Node:
        if self.ts:
            d: Node = {"type": t}
            for k in sorted(f):
                d[k] = f[k]
            d["range"] = None
            d["loc"] = None
            return d
        d = {"type": t, "start": 0, "end": 0, "loc": None}
        d.update(f)
        return d

    def ident(self, name: str, annotation: Node | None = None) -> Node:
        if self.ts:
            f: Node = {"decorators": [], "name": name, "optional": False}
            if annotation is not None:
                f["typeAnnotation"] = annotation
            return self.n("Identifier", f)
        return self.n("Identifier", {"name": name})

    def lit(self, v: Any) -> Node:
        if v is None:
            raw = "null"
        elif v is True or v is False:
            raw = "true" if v else "false"
        elif isinstance(v, str):
            raw = "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        else:
            raw = repr(v)
        if self.babel:
            if v is None:
                return self.n("NullLiteral", {})
            if v is True or v is False:
                return self.n("BooleanLiteral", {"value": v})
            t = "StringLiteral" if isinstance(v, str) else "NumericLiteral"
            return self.n(t, {"extra": {"rawValue": v, "raw": raw}, "value": v})
        return self.n("Literal", {"value": v, "raw": raw})

    def comment(self, text: str, block: bool) -> Node:
        if self.ts:
            return {"type": "Block" if block else "Line", "loc": None, "range": None, "value": text}
        t = "CommentBlock" if block else "CommentLine"
        return {"type": t, "value": text, "start": 0, "end": 0, "loc": None}

    def ts_type(self, depth: int = 0) -> Node:
        rng = self.rng
        r = rng.random()
        if r < 0.5:
            return self.n(rng.choice(_TS_KEYWORD_TYPES), {})
        if r < 0.8 or depth:
            f: Node = {"typeName": self.ident(self.program.names.cls())}
            if rng.random() < 0.3:
                params = [self.n(rng.choice(_TS_KEYWORD_TYPES), {})]
                f["typeArguments"] = self.n("TSTypeParameterInstantiation", {"params": params})
            return self.n("TSTypeReference", f)
        if r < 0.9:
            return self.n("TSArrayType", {"elementType": self.ts_type(1)})
        undefined = self.n("TSUndefinedKeyword", {})
        return self.n("TSUnionType", {"types": [self.ts_type(1), undefined]})

    def annotation(self, t: Node | None = None) -> Node:
        return self.n("TSTypeAnnotation", {"typeAnnotation": t or self.ts_type()})

    def param(self, name: str) -> Node:
        if self.ts and self.rng.random() < 0.85:
            return self.ident(name, self.annotation())
        return self.ident(name)

    def block(self, stmts: Sequence[Ir]) -> Node:
        f: Node = {"body": [self.stmt(s) for s in stmts]}
        if self.babel:
            f["directives"] = []
        return self.n("BlockStatement", f)

    def function(
        self, t: str, name: str | None, params: Sequence[str], body: Any, *, is_async: bool = False
    ) -> Node:
        ps = [self.param(p) for p in params]
        ident = self.ident(name) if name else None
        b = body if isinstance(body, dict) or body is None else self.block(body)
        expression = t == "ArrowFunctionExpression" and not (b and b["type"] == "BlockStatement")
        if self.babel:
            return self.n(
                t, {"id": ident, "generator": False, "async": is_async, "params": ps, "body": b}
            )
        if self.ts:
            f: Node = {
                "async": is_async,
                "body": b,
                "expression": expression,
                "generator": False,
                "id": ident,
                "params": ps,
            }
            if t in ("FunctionDeclaration", "TSDeclareFunction"):
                f["declare"] = t == "TSDeclareFunction"
            if t == "TSDeclareFunction":
                del f["body"]  # undefined, so JSON.stringify leaves it out
            if t == "TSDeclareFunction" or self.rng.random() < 0.7:
                f["returnType"] = self.annotation()
            return self.n(t, f)
        return self.n(
            t,
            {
                "id": ident,
                "expression": expression,
                "generator": False,
                "async": is_async,
                "params": ps,
                "body": b,
            },
        )

    def export(self, decl: Node, type_only: bool = False) -> Node:
        if self.ts:
            return self.n(
                "ExportNamedDeclaration",
                {
                    "attributes": [],
                    "declaration": decl,
                    "exportKind": "type" if type_only else "value",
                    "source": None,
                    "specifiers": [],
                },
            )
        if self.babel:
            return self.n(
                "ExportNamedDeclaration",
                {"specifiers": [], "source": None, "attributes": [], "declaration": decl},
            )
        return self.n(
            "ExportNamedDeclaration",
            {"declaration": decl, "specifiers": [], "source": None, "attributes": []},
        )

    def variable(
        self, name: str, init: Node | None, kind: str = "const", typed: bool = False
    ) -> Node:
        if self.ts:
            annotation = self.annotation() if typed or self.rng.random() < 0.3 else None
            d = self.n(
                "VariableDeclarator",
                {"definite": False, "id": self.ident(name, annotation), "init": init},
            )
            return self.n(
                "VariableDeclaration", {"declarations": [d], "declare": False, "kind": kind}
            )
        d = self.n("VariableDeclarator", {"id": self.ident(name), "init": init})
        return self.n("VariableDeclaration", {"declarations": [d], "kind": kind})

    # items

    def item(self, it: Ir) -> Node:
        node: Node = getattr(self, "_item_" + it[0])(it)
        if it[0] != "import" and self.rng.random() < 0.12 and not (self.ts and self.declarations):
            if self.babel or self.ts:
                text = "*\n * " + " ".join(self.rng.choice(_NOUNS) for _ in range(6)) + "\n "
                node["leadingComments"] = [self.comment(text, True)]
        return node

    def _item_import(self, it: Ir) -> Node:
        _, module, names = it
        rng = self.rng
        if names:
            specs = []
            for name in names:
                if self.ts:
                    specs.append(
                        self.n(
                            "ImportSpecifier",
                            {
                                "imported": self.ident(name),
                                "importKind": "value",
                                "local": self.ident(name),
                            },
                        )
                    )
                else:
                    specs.append(
                        self.n(
                            "ImportSpecifier",
                            {"imported": self.ident(name), "local": self.ident(name)},
                        )
                    )
        else:
            alias = _pascal(module.rsplit("/", 1)[-1].replace(":", "_").replace("-", "_"))
            t = "ImportNamespaceSpecifier" if rng.random() < 0.5 else "ImportDefaultSpecifier"
            specs = [self.n(t, {"local": self.ident(alias or "m")})]
        if self.ts:
            return self.n(
                "ImportDeclaration",
                {
                    "attributes": [],
                    "importKind": "value",
                    "phase": None,
                    "source": self.lit(module),
                    "specifiers": specs,
                },
            )
        return self.n(
            "ImportDeclaration", {"specifiers": specs, "source": self.lit(module), "attributes": []}
        )

    def _item_func(self, it: Ir) -> Node:
        _, name, params, body, exported, is_async = it
        if self.rng.random() < 0.25:
            arrow = self.function("ArrowFunctionExpression", None, params, body, is_async=is_async)
            decl = self.variable(name, arrow)
        else:
            decl = self.function("FunctionDeclaration", name, params, body, is_async=is_async)
        return self.export(decl) if exported else decl

    def _item_declare(self, it: Ir) -> Node:
        _, name, params = it
        return self.export(self.function("TSDeclareFunction", name, params, None))

    def _item_var(self, it: Ir) -> Node:
        _, name, value, exported = it
        decl = self.variable(name, self.expr(value), typed=True)
        return self.export(decl) if exported else decl

    def _item_alias(self, it: Ir) -> Node:
        _, name, options = it
        types = [self.n("TSLiteralType", {"literal": self.lit(o)}) for o in options]
        decl = self.n(
            "TSTypeAliasDeclaration",
            {
                "declare": False,
                "id": self.ident(name),
                "typeAnnotation": self.n("TSUnionType", {"types": types}),
            },
        )
        return self.export(decl, type_only=True)

    def _item_interface(self, it: Ir) -> Node:
        _, name, members, methods = it
        body = [
            self.n(
                "TSPropertySignature",
                {
                    "computed": False,
                    "key": self.ident(m),
                    "optional": optional,
                    "readonly": False,
                    "static": False,
                    "typeAnnotation": self.annotation(),
                },
            )
            for m, optional in members
        ]
        body += [
            self.n(
                "TSMethodSignature",
                {
                    "computed": False,
                    "key": self.ident(m),
                    "kind": "method",
                    "optional": False,
                    "params": [self.param(p) for p in ps],
                    "readonly": False,
                    "returnType": self.annotation(),
                    "static": False,
                },
            )
            for m, ps in methods
        ]
        decl = self.n(
            "TSInterfaceDeclaration",
            {
                "body": self.n("TSInterfaceBody", {"body": body}),
                "declare": False,
                "extends": [],
                "id": self.ident(name),
            },
        )
        return self.export(decl, type_only=True)

    def _item_class(self, it: Ir) -> Node:
        _, name, base, fields, methods = it
        members = [self._field(f, v) for f, v in fields]
        members += [self._method(m) for m in methods]
        superclass = self.ident(base) if base else None
        body = self.n("ClassBody", {"body": members})
        if self.ts:
            decl = self.n(
                "ClassDeclaration",
                {
                    "abstract": False,
                    "body": body,
                    "declare": self.declarations,
                    "decorators": [],
                    "id": self.ident(name),
                    "implements": [],
                    "superClass": superclass,
                },
            )
        else:
            decl = self.n(
                "ClassDeclaration", {"id": self.ident(name), "superClass": superclass, "body": body}
            )
        return self.export(decl) if self.rng.random() < 0.6 else decl

    def _field(self, name: str, value: Ir | None) -> Node:
        v = self.expr(value) if value is not None else None
        if self.babel:
            return self.n(
                "ClassProperty",
                {"static": False, "key": self.ident(name), "computed": False, "value": v},
            )
        if self.ts:
            return self.n(
                "PropertyDefinition",
                {
                    "accessibility": "private",
                    "computed": False,
                    "declare": False,
                    "decorators": [],
                    "definite": False,
                    "key": self.ident(name),
                    "optional": False,
                    "override": False,
                    "readonly": False,
                    "static": False,
                    "typeAnnotation": self.annotation(),
                    "value": v,
                },
            )
        return self.n(
            "PropertyDefinition",
            {"static": False, "computed": False, "key": self.ident(name), "value": v},
        )

    def _method(self, m: Ir) -> Node:
        _, name, params, body = m
        key = self.ident(name)
        if self.babel:
            return self.n(
                "ClassMethod",
                {
                    "static": False,
                    "key": key,
                    "computed": False,
                    "kind": "method",
                    "id": None,
                    "generator": False,
                    "async": False,
                    "params": [self.param(p) for p in params],
                    "body": self.block(body),
                },
            )
        if body is None:
            value = self.function("TSEmptyBodyFunctionExpression", None, params, None)
            value["declare"] = False
        else:
            value = self.function("FunctionExpression", None, params, body)
        if self.ts:
            return self.n(
                "MethodDefinition",
                {
                    "computed": False,
                    "decorators": [],
                    "key": key,
                    "kind": "method",
                    "optional": False,
                    "override": False,
                    "static": False,
                    "value": value,
                },
            )
        return self.n(
            "MethodDefinition",
            {"static": False, "computed": False, "key": key, "kind": "method", "value": value},
        )

    # statements

    def stmt(self, s: Ir) -> Node:
        node: Node = getattr(self, "_stmt_" + s[0])(s)
        if self.rng.random() < 0.04 and (self.babel or self.ts):
            node["leadingComments"] = [self.comment(" " + self.rng.choice(_PHRASES), False)]
        return node

    def _stmt_let(self, s: Ir) -> Node:
        return self.variable(s[1], self.expr(s[2]), "const" if self.rng.random() < 0.7 else "let")

    def _stmt_set(self, s: Ir) -> Node:
        assign = self.n(
            "AssignmentExpression",
            {"operator": "=", "left": self.expr(s[1]), "right": self.expr(s[2])},
        )
        return self.n("ExpressionStatement", {"expression": assign})

    def _stmt_expr(self, s: Ir) -> Node:
        return self.n("ExpressionStatement", {"expression": self.expr(s[1])})

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        alternate = None
        if orelse:
            alternate = (
                self.stmt(orelse[0])
                if len(orelse) == 1 and orelse[0][0] == "if"
                else (self.block(orelse))
            )
        return self.n(
            "IfStatement",
            {"test": self.expr(cond), "consequent": self.block(then), "alternate": alternate},
        )

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        if self.rng.random() < 0.6:
            left = self.variable(var, None)
            return self.n(
                "ForOfStatement",
                {
                    "await": False,
                    "left": left,
                    "right": self.expr(iterable),
                    "body": self.block(body),
                },
            )
        init = self.variable("i", self.lit(0), "let")
        test = self.n(
            "BinaryExpression",
            {
                "left": self.ident("i"),
                "operator": "<",
                "right": self.expr(("attr", iterable, "length")),
            },
        )
        update = self.n(
            "UpdateExpression", {"operator": "++", "prefix": False, "argument": self.ident("i")}
        )
        return self.n(
            "ForStatement", {"init": init, "test": test, "update": update, "body": self.block(body)}
        )

    def _stmt_while(self, s: Ir) -> Node:
        return self.n("WhileStatement", {"test": self.expr(s[1]), "body": self.block(s[2])})

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        out = []
        brk = {"label": None}
        for value, body in cases:
            consequent = [self.stmt(x) for x in body] + [self.n("BreakStatement", dict(brk))]
            out.append(self.n("SwitchCase", {"consequent": consequent, "test": self.expr(value)}))
        if default:
            out.append(
                self.n("SwitchCase", {"consequent": [self.stmt(x) for x in default], "test": None})
            )
        return self.n("SwitchStatement", {"discriminant": self.expr(subject), "cases": out})

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        clause = self.n("CatchClause", {"param": self.ident(err), "body": self.block(handler)})
        return self.n(
            "TryStatement", {"block": self.block(body), "handler": clause, "finalizer": None}
        )

    def _stmt_return(self, s: Ir) -> Node:
        return self.n("ReturnStatement", {"argument": self.expr(s[1]) if s[1] else None})

    # expressions

    def expr(self, e: Ir) -> Node:
        return getattr(self, "_expr_" + e[0])(e)  # type: ignore[no-any-return]

    def _expr_name(self, e: Ir) -> Node:
        return self.ident(e[1])

    def _expr_this(self, e: Ir) -> Node:
        return self.n("ThisExpression", {})

    def _expr_attr(self, e: Ir) -> Node:
        obj, prop = self.expr(e[1]), self.ident(e[2])
        if self.babel:
            return self.n("MemberExpression", {"object": obj, "computed": False, "property": prop})
        if self.ts:
            return self.n(
                "MemberExpression",
                {"computed": False, "object": obj, "optional": False, "property": prop},
            )
        return self.n(
            "MemberExpression",
            {"object": obj, "property": prop, "computed": False, "optional": False},
        )

    def _expr_call(self, e: Ir) -> Node:
        callee, args = self.expr(e[1]), [self.expr(a) for a in e[2]]
        if self.babel:
            return self.n("CallExpression", {"callee": callee, "arguments": args})
        return self.n("CallExpression", {"callee": callee, "arguments": args, "optional": False})

    def _expr_new(self, e: Ir) -> Node:
        return self.n(
            "NewExpression", {"callee": self.ident(e[1]), "arguments": [self.expr(a) for a in e[2]]}
        )

    def _expr_bin(self, e: Ir) -> Node:
        return self.n(
            "BinaryExpression",
            {"left": self.expr(e[2]), "operator": e[1], "right": self.expr(e[3])},
        )

    def _expr_cmp(self, e: Ir) -> Node:
        op = {"==": "===", "!=": "!=="}.get(e[1], e[1])
        return self.n(
            "BinaryExpression", {"left": self.expr(e[2]), "operator": op, "right": self.expr(e[3])}
        )

    def _expr_logic(self, e: Ir) -> Node:
        return self.n(
            "LogicalExpression",
            {"left": self.expr(e[2]), "operator": e[1], "right": self.expr(e[3])},
        )

    def _expr_not(self, e: Ir) -> Node:
        return self.n(
            "UnaryExpression", {"operator": "!", "prefix": True, "argument": self.expr(e[1])}
        )

    def _expr_str(self, e: Ir) -> Node:
        return self.lit(e[1])

    def _expr_num(self, e: Ir) -> Node:
        return self.lit(e[1])

    def _expr_bool(self, e: Ir) -> Node:
        return self.lit(e[1])

    def _expr_null(self, e: Ir) -> Node:
        return self.lit(None)

    def _expr_lambda(self, e: Ir) -> Node:
        return self.function("ArrowFunctionExpression", None, e[1], self.expr(e[2]))

    def _expr_cond(self, e: Ir) -> Node:
        return self.n(
            "ConditionalExpression",
            {"test": self.expr(e[1]), "consequent": self.expr(e[2]), "alternate": self.expr(e[3])},
        )

    def _expr_list(self, e: Ir) -> Node:
        return self.n("ArrayExpression", {"elements": [self.expr(x) for x in e[1]]})


# --------------------------------------------------------------------------------------------
# CPython ast in an envelope

_PY_LOAD: Node = {"_type": "Load"}
_PY_STORE: Node = {"_type": "Store"}
_PY_OPS = {"+": "Add", "-": "Sub", "*": "Mult", "/": "Div", "%": "Mod"}
_PY_CMP = {"<": "Lt", ">": "Gt", "<=": "LtE", ">=": "GtE", "==": "Eq", "!=": "NotEq"}
_PY_BLOCKS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
_PY_MODULES = (
    "os", "sys", "json", "re", "typing", "collections", "dataclasses", "pathlib", "logging",
    "functools", "itertools", "asyncio", "contextlib", "abc", "enum", "time", "datetime",
)  # fmt: skip
_PY_WIDTH = {"Name": "id", "alias": "name", "arg": "arg", "Attribute": "attr"}
# Escapes of lone surrogates, as json.dumps writes str constants that hold them.
_SURROGATES = (b"\\ud800", b"\\udcff", b"\\udc80abc", b"x\\ud83d", b"\\udfff\\ud800")
_MARKERS = (
    lambda rng: "__bytes__:" + base64.b64encode(rng.randbytes(rng.randint(0, 12))).decode(),
    lambda rng: rng.choice(("__float__:inf", "__float__:-inf", "__float__:nan")),
    lambda rng: "__complex__:" + rng.choice(("1j", "2.5j", "(1+2j)", "-0.5j")),
    lambda rng: "__ellipsis__:...",
)


class _PyAstDoc(_Doc):
    """CPython 3.11 ``ast`` as JSON (``_type`` on every node), in the envelope."""

    bps = 650.0

    def __init__(
        self, rng: random.Random, path: str, *, surrogates: bool = False, target: int = 1 << 30
    ) -> None:
        super().__init__(rng)
        self.path = path
        self.surrogates = surrogates
        self.n_surrogates = 0
        names = _Names(rng, snake=True)
        imports = [
            (
                "import",
                rng.choice(_PY_MODULES),
                tuple(names.var() for _ in range(rng.randint(1, 3))) if rng.random() < 0.5 else (),
            )
            for _ in range(rng.randint(0, 10))
        ]
        self.program = _Program(rng, names, imports=_cap_imports(imports, target), unicode=False)

    def n(self, t: str, f: Node) -> Node:
        d: Node = {"_type": t}
        d.update(f)
        d["lineno"] = d["col_offset"] = d["end_lineno"] = d["end_col_offset"] = 0
        return d

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        cur = self.cur
        if stmt:
            cur.newline(indent)
        line, col = cur.line, cur.col
        t = node["_type"]
        key = _PY_WIDTH.get(t)
        if key is not None:
            cur.skip(len(node[key]))
        elif t == "Constant":
            cur.skip(len(str(node["value"])) + 2)
        else:
            cur.skip(1)
        for k, v in node.items():
            cls = v.__class__
            if cls is dict:
                if "_type" in v:
                    self.layout(v, indent, False)
                    cur.skip(1)
            elif cls is list and v:
                if k in _PY_BLOCKS:
                    for x in v:
                        self.layout(x, indent + 4, True)
                else:
                    for x in v:
                        if x.__class__ is dict:
                            self.layout(x, indent, False)
                            cur.skip(2)
        if "lineno" in node:
            node["lineno"] = line
            node["col_offset"] = col
            node["end_lineno"] = cur.line
            node["end_col_offset"] = cur.col

    def overhead(self) -> int:
        return 250 + len(self.path)

    def mark(self) -> tuple[Any, ...]:
        return self.cur.state(), len(self.units), len(self.program.functions)

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]
        del self.program.functions[m[2] :]

    def unit(self, size: int) -> tuple[int, int]:
        it, used = self.program.item(size)
        node = getattr(self, "_item_" + it[0])(it)
        self.layout(node, 0, True)
        data = orjson.dumps(node)
        if self.surrogates and b"@@SURR@@" in data:
            data = data.replace(b"@@SURR@@", self.rng.choice(_SURROGATES))
        self.units.append(data)
        return len(data), used

    def finish(self) -> bytes:
        rng = self.rng
        env = {
            "language": "python",
            "parser": {"name": "cpython-ast", "version": f"3.11.{rng.choice((4, 7, 9))}"},
            "source": {"path": self.path, "sha256": _sha(rng), "size": self.cur.offset},
            "ast": {"_type": "Module", "body": [_SENTINEL], "type_ignores": []},
        }
        return _splice(orjson.dumps(env), b",".join(self.units))

    # items

    def arguments(self, params: Sequence[str], self_: bool = False) -> Node:
        names = ["self", *params] if self_ else list(params)
        args = [
            self.n(
                "arg",
                {
                    "arg": p,
                    "annotation": self.name(self.rng.choice(("str", "int", "Any", "bool")))
                    if self.rng.random() < 0.3
                    else None,
                    "type_comment": None,
                },
            )
            for p in names
        ]
        return {
            "_type": "arguments",
            "posonlyargs": [],
            "args": args,
            "vararg": None,
            "kwonlyargs": [],
            "kw_defaults": [],
            "kwarg": None,
            "defaults": [],
        }

    def _item_import(self, it: Ir) -> Node:
        _, module, names = it
        if names:
            aliases = [self.n("alias", {"name": x, "asname": None}) for x in names]
            return self.n("ImportFrom", {"module": module, "names": aliases, "level": 0})
        return self.n("Import", {"names": [self.n("alias", {"name": module, "asname": None})]})

    def function(
        self,
        name: str,
        params: Sequence[str],
        body: Sequence[Ir] | None,
        is_async: bool = False,
        method: bool = False,
    ) -> Node:
        stmts = [self.stmt(s) for s in body] if body else [self.ellipsis()]
        if self.rng.random() < 0.3:
            doc = " ".join(self.rng.choice(_NOUNS) for _ in range(self.rng.randint(3, 12)))
            stmts.insert(0, self.n("Expr", {"value": self.const(doc.capitalize() + ".")}))
        decorators = [self.name("staticmethod")] if method and self.rng.random() < 0.1 else []
        return self.n(
            "AsyncFunctionDef" if is_async else "FunctionDef",
            {
                "name": name,
                "args": self.arguments(params, method and not decorators),
                "body": stmts,
                "decorator_list": decorators,
                "returns": self.name("None") if self.rng.random() < 0.3 else None,
                "type_comment": None,
            },
        )

    def _item_func(self, it: Ir) -> Node:
        _, name, params, body, _exported, is_async = it
        return self.function(name, params, body, is_async)

    def _item_class(self, it: Ir) -> Node:
        _, name, base, fields, methods = it
        body: list[Node] = [
            self.n(
                "Assign",
                {"targets": [self.name(f, _PY_STORE)], "value": self.expr(v), "type_comment": None},
            )
            for f, v in fields
        ]
        body += [self.function(m, p, b, method=True) for _, m, p, b in methods]
        return self.n(
            "ClassDef",
            {
                "name": name,
                "bases": [self.name(base)] if base else [],
                "keywords": [],
                "body": body or [self.n("Pass", {})],
                "decorator_list": [],
            },
        )

    def _item_var(self, it: Ir) -> Node:
        _, name, value, _exported = it
        return self.n(
            "Assign",
            {
                "targets": [self.name(name.upper(), _PY_STORE)],
                "value": self.expr(value),
                "type_comment": None,
            },
        )

    # statements

    def stmt(self, s: Ir) -> Node:
        return getattr(self, "_stmt_" + s[0])(s)  # type: ignore[no-any-return]

    def _stmt_let(self, s: Ir) -> Node:
        return self.n(
            "Assign",
            {
                "targets": [self.name(s[1], _PY_STORE)],
                "value": self.expr(s[2]),
                "type_comment": None,
            },
        )

    def _stmt_set(self, s: Ir) -> Node:
        target = self.expr(s[1], _PY_STORE)
        if self.rng.random() < 0.15:
            return self.n(
                "AugAssign", {"target": target, "op": {"_type": "Add"}, "value": self.expr(s[2])}
            )
        return self.n(
            "Assign", {"targets": [target], "value": self.expr(s[2]), "type_comment": None}
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return self.n("Expr", {"value": self.expr(s[1])})

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        return self.n(
            "If",
            {
                "test": self.expr(cond),
                "body": [self.stmt(x) for x in then],
                "orelse": [self.stmt(x) for x in orelse or ()],
            },
        )

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return self.n(
            "For",
            {
                "target": self.name(var, _PY_STORE),
                "iter": self.expr(iterable),
                "body": [self.stmt(x) for x in body],
                "orelse": [],
                "type_comment": None,
            },
        )

    def _stmt_while(self, s: Ir) -> Node:
        return self.n(
            "While", {"test": self.expr(s[1]), "body": [self.stmt(x) for x in s[2]], "orelse": []}
        )

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        if self.rng.random() < 0.2:
            match_cases = [
                {
                    "_type": "match_case",
                    "pattern": self.n("MatchValue", {"value": self.expr(v)}),
                    "guard": None,
                    "body": [self.stmt(x) for x in body],
                }
                for v, body in cases
            ]
            return self.n("Match", {"subject": self.expr(subject), "cases": match_cases})
        node: Node | None = None
        orelse = [self.stmt(x) for x in default or ()]
        for value, body in reversed(cases):
            test = ("cmp", "==", subject, value)
            node = self.n(
                "If",
                {"test": self.expr(test), "body": [self.stmt(x) for x in body], "orelse": orelse},
            )
            orelse = [node]
        assert node is not None
        return node

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        h = self.n(
            "ExceptHandler",
            {
                "type": self.name(
                    self.rng.choice(("ValueError", "OSError", "KeyError", "Exception"))
                ),
                "name": err,
                "body": [self.stmt(x) for x in handler],
            },
        )
        return self.n(
            "Try",
            {"body": [self.stmt(x) for x in body], "handlers": [h], "orelse": [], "finalbody": []},
        )

    def _stmt_return(self, s: Ir) -> Node:
        return self.n("Return", {"value": self.expr(s[1]) if s[1] else None})

    # expressions

    def name(self, id_: str, ctx: Node = _PY_LOAD) -> Node:
        return self.n("Name", {"id": id_, "ctx": ctx})

    def const(self, v: Any) -> Node:
        return self.n("Constant", {"value": v, "kind": None})

    def ellipsis(self) -> Node:
        return self.n("Expr", {"value": self.const("__ellipsis__:...")})

    def expr(self, e: Ir, ctx: Node = _PY_LOAD) -> Node:
        k = e[0]
        if k == "name":
            return self.name(e[1], ctx)
        if k == "this":
            return self.name("self", ctx)
        if k == "attr":
            return self.n("Attribute", {"value": self.expr(e[1]), "attr": e[2], "ctx": ctx})
        return getattr(self, "_expr_" + k)(e)  # type: ignore[no-any-return]

    def _expr_call(self, e: Ir) -> Node:
        return self.n(
            "Call", {"func": self.expr(e[1]), "args": [self.expr(a) for a in e[2]], "keywords": []}
        )

    def _expr_new(self, e: Ir) -> Node:
        return self.n(
            "Call", {"func": self.name(e[1]), "args": [self.expr(a) for a in e[2]], "keywords": []}
        )

    def _expr_bin(self, e: Ir) -> Node:
        return self.n(
            "BinOp",
            {"left": self.expr(e[2]), "op": {"_type": _PY_OPS[e[1]]}, "right": self.expr(e[3])},
        )

    def _expr_cmp(self, e: Ir) -> Node:
        return self.n(
            "Compare",
            {
                "left": self.expr(e[2]),
                "ops": [{"_type": _PY_CMP[e[1]]}],
                "comparators": [self.expr(e[3])],
            },
        )

    def _expr_logic(self, e: Ir) -> Node:
        op = "And" if e[1] == "&&" else "Or"
        return self.n("BoolOp", {"op": {"_type": op}, "values": [self.expr(e[2]), self.expr(e[3])]})

    def _expr_not(self, e: Ir) -> Node:
        return self.n("UnaryOp", {"op": {"_type": "Not"}, "operand": self.expr(e[1])})

    def _expr_str(self, e: Ir) -> Node:
        rng = self.rng
        r = rng.random()
        if r < 0.04:
            return self.const(rng.choice(_MARKERS)(rng))
        if self.surrogates and r < 0.35 and self.n_surrogates < 3:
            self.n_surrogates += 1
            return self.const("@@SURR@@")
        return self.const(e[1])

    def _expr_num(self, e: Ir) -> Node:
        return self.const(e[1])

    def _expr_bool(self, e: Ir) -> Node:
        return self.const(e[1])

    def _expr_null(self, e: Ir) -> Node:
        return self.const(None)

    def _expr_lambda(self, e: Ir) -> Node:
        return self.n("Lambda", {"args": self.arguments(e[1]), "body": self.expr(e[2])})

    def _expr_cond(self, e: Ir) -> Node:
        return self.n(
            "IfExp", {"test": self.expr(e[1]), "body": self.expr(e[2]), "orelse": self.expr(e[3])}
        )

    def _expr_list(self, e: Ir) -> Node:
        if e[1] and self.rng.random() < 0.3:
            gen = {
                "_type": "comprehension",
                "target": self.name("x", _PY_STORE),
                "iter": self.expr(e[1][0]),
                "ifs": [],
                "is_async": 0,
            }
            return self.n("ListComp", {"elt": self.name("x"), "generators": [gen]})
        return self.n("List", {"elts": [self.expr(x) for x in e[1]], "ctx": _PY_LOAD})


# --------------------------------------------------------------------------------------------
# py-tree-sitter dumps in an envelope: named nodes, ``field``, leaf ``text``

_TS_EMPTY_TEXT = {
    "block": "{}", "argument_list": "()", "parameter_list": "()", "parameters": "()",
    "formal_parameters": "()", "arguments": "()", "class_body": "{}", "literal_value": "{}",
    "field_declaration_list": "{}", "declaration_list": "{}", "list": "[]", "token_tree": "()",
    "interface_body": "{}", "statement_list": "", "return_statement": "return",
    "break_statement": "break;", "expression_list": "",
}  # fmt: skip
_GRAMMARS = {"go": "0.25.0", "rust": "0.24.2", "java": "0.23.5", "python": "0.25.0"}
_ROOT_TYPES = {"go": "source_file", "rust": "source_file", "java": "program", "python": "module"}


def _t(
    t: str, kids: list[Node] | None = None, field: str | None = None, text: str | None = None
) -> Node:
    """A tree-sitter node: ``text`` only on nodes without named children, as py-tree-sitter."""
    d: Node = {"type": t}
    if field is not None:
        d["field"] = field
    d["start_point"] = None
    d["end_point"] = None
    if kids:
        d["children"] = kids
    else:
        d["text"] = text if text is not None else _TS_EMPTY_TEXT.get(t, t)
        d["children"] = []
    return d


def _with_field(node: Node, field: str | None) -> Node:
    """``node`` as the child in ``field`` (py-tree-sitter writes ``field`` after ``type``)."""
    d: Node = {"type": node["type"]}
    if field is not None:
        d["field"] = field
    d.update((k, v) for k, v in node.items() if k not in ("type", "field"))
    return d


def _missing(t: str, field: str | None = None) -> Node:
    """A node tree-sitter inserted to recover from a syntax error (zero width)."""
    d: Node = {"type": t}
    if field is not None:
        d["field"] = field
    d.update(start_point=None, end_point=None, missing=True, text="", children=[])
    return d


class _Sitter:
    """Renders the neutral program as one grammar's named nodes. Subclasses per language."""

    lang = ""
    blocks: frozenset[str] = frozenset()
    modules: tuple[str, ...] = ()

    def __init__(self, rng: random.Random, names: _Names) -> None:
        self.rng = rng
        self.names = names

    def imports(self) -> list[Ir]:
        rng = self.rng
        return [
            ("import", rng.choice(self.modules), (self.names.cls(),))
            for _ in range(rng.randint(0, 9))
        ]

    def preamble(self) -> list[Node]:
        return []

    def ident(self, name: str, field: str | None = None) -> Node:
        return _t("identifier", field=field, text=name)

    def item(self, it: Ir) -> list[Node]:
        return getattr(self, "_item_" + it[0])(it)  # type: ignore[no-any-return]

    def stmts(self, body: Sequence[Ir]) -> list[Node]:
        out: list[Node] = []
        for s in body:
            r = getattr(self, "_stmt_" + s[0])(s)
            if r.__class__ is list:
                out.extend(r)
            else:
                out.append(r)
        return out

    def expr(self, e: Ir, field: str | None = None) -> Node:
        return getattr(self, "_expr_" + e[0])(e, field)  # type: ignore[no-any-return]

    def string(self, s: str, field: str | None) -> Node:
        raise NotImplementedError

    # shared expression forms
    def _expr_name(self, e: Ir, field: str | None) -> Node:
        return self.ident(e[1], field)

    def _expr_str(self, e: Ir, field: str | None) -> Node:
        return self.string(e[1], field)

    def _expr_null(self, e: Ir, field: str | None) -> Node:
        return _t(
            {"go": "nil", "rust": "identifier", "java": "null_literal", "python": "none"}[
                self.lang
            ],
            field=field,
            text={"go": "nil", "rust": "None", "java": "null", "python": "None"}[self.lang],
        )

    def _expr_bool(self, e: Ir, field: str | None) -> Node:
        text = {"python": "True" if e[1] else "False"}.get(self.lang, "true" if e[1] else "false")
        if self.lang == "rust":
            return _t("boolean_literal", field=field, text=text)
        return _t(text.lower(), field=field, text=text)

    def _expr_not(self, e: Ir, field: str | None) -> Node:
        t = "not_operator" if self.lang == "python" else "unary_expression"
        return _t(t, [self.expr(e[1], "argument" if self.lang == "python" else "operand")], field)


class _GoSitter(_Sitter):
    lang = "go"
    blocks = frozenset({"statement_list", "field_declaration_list", "import_spec_list"})
    modules = (
        "fmt",
        "strings",
        "errors",
        "context",
        "io",
        "os",
        "sync",
        "time",
        "net/http",
        "encoding/json",
        "github.com/acme/core/internal/store",
        "golang.org/x/sys/unix",
    )

    def imports(self) -> list[Ir]:
        rng = self.rng
        return [("import_group", tuple(rng.sample(self.modules, rng.randint(1, 8))))]

    def preamble(self) -> list[Node]:
        return [_t("package_clause", [_t("package_identifier", text=self.rng.choice(_NOUNS))])]

    def string(self, s: str, field: str | None) -> Node:
        return _t(
            "interpreted_string_literal",
            [_t("interpreted_string_literal_content", text=s)] if s else None,
            field,
            text='""',
        )

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        stmts = self.stmts(body)
        return _t("block", [_t("statement_list", stmts)] if stmts else None, field)

    def params(self, params: Sequence[str], field: str = "parameters") -> Node:
        decls = [
            _t(
                "parameter_declaration",
                [
                    self.ident(p, "name"),
                    _t(
                        "type_identifier",
                        field="type",
                        text=self.rng.choice(("string", "int", "error", "bool", "Options")),
                    ),
                ],
            )
            for p in params
        ]
        return _t("parameter_list", decls, field)

    def _item_import_group(self, it: Ir) -> list[Node]:
        specs = [_t("import_spec", [self.string(m, "path")]) for m in it[1]]
        if len(specs) == 1:
            return [_t("import_declaration", specs)]
        return [_t("import_declaration", [_t("import_spec_list", specs)])]

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, exported, _ = it
        kids = [self.ident(_pascal(name) if exported else name, "name"), self.params(params)]
        if self.rng.random() < 0.6:
            kids.append(_t("type_identifier", field="result", text="error"))
        kids.append(self.block(body))
        return [_t("function_declaration", kids)]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, _base, fields, methods = it
        decls = [
            _t(
                "field_declaration",
                [
                    _t("field_identifier", field="name", text=f),
                    _t("type_identifier", field="type", text="string"),
                ],
            )
            for f, _ in fields
        ]
        struct = _t("struct_type", [_t("field_declaration_list", decls)], "type")
        out = [
            _t(
                "type_declaration",
                [_t("type_spec", [_t("type_identifier", field="name", text=name), struct])],
            )
        ]
        for _, m, params, body in methods:
            receiver = _t(
                "parameter_list",
                [
                    _t(
                        "parameter_declaration",
                        [
                            self.ident("s", "name"),
                            _t("pointer_type", [_t("type_identifier", text=name)], "type"),
                        ],
                    )
                ],
                "receiver",
            )
            out.append(
                _t(
                    "method_declaration",
                    [
                        receiver,
                        _t("field_identifier", field="name", text=_pascal(m)),
                        self.params(params),
                        self.block(body),
                    ],
                )
            )
        return out

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        spec = _t(
            "var_spec",
            [self.ident(name, "name"), _t("expression_list", [self.expr(value)], "value")],
        )
        return [_t("var_declaration", [spec])]

    def _stmt_let(self, s: Ir) -> Node:
        return _t(
            "short_var_declaration",
            [
                _t("expression_list", [self.ident(s[1])], "left"),
                _t("expression_list", [self.expr(s[2])], "right"),
            ],
        )

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "assignment_statement",
            [
                _t("expression_list", [self.expr(s[1])], "left"),
                _t("expression_list", [self.expr(s[2])], "right"),
            ],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return _t("expression_statement", [self.expr(s[1])])

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        kids = [self.expr(cond, "condition"), self.block(then, "consequence")]
        if orelse:
            if len(orelse) == 1 and orelse[0][0] == "if":
                kids.append(_with_field(self._stmt_if(orelse[0]), "alternative"))
            else:
                kids.append(self.block(orelse, "alternative"))
        return _t("if_statement", kids)

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        clause = _t(
            "range_clause",
            [
                _t("expression_list", [self.ident("_"), self.ident(var)], "left"),
                self.expr(iterable, "right"),
            ],
        )
        return _t("for_statement", [clause, self.block(body)])

    def _stmt_while(self, s: Ir) -> Node:
        return _t("for_statement", [self.expr(s[1], "condition"), self.block(s[2])])

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        kids = [self.expr(subject, "value")]
        for value, body in cases:
            stmts = self.stmts(body)
            kids.append(
                _t(
                    "expression_case",
                    [
                        _t("expression_list", [self.expr(value)], "value"),
                        *([_t("statement_list", stmts)] if stmts else []),
                    ],
                )
            )
        if default:
            kids.append(_t("default_case", [_t("statement_list", self.stmts(default))]))
        return _t("expression_switch_statement", kids)

    def _stmt_try(self, s: Ir) -> list[Node]:
        _, body, err, handler = s
        init = _t(
            "short_var_declaration",
            [
                _t("expression_list", [self.ident(err)], "left"),
                _t(
                    "expression_list",
                    [self.expr(("call", ("name", self.names.func()), []))],
                    "right",
                ),
            ],
            "initializer",
        )
        cond = _t(
            "binary_expression",
            [self.ident(err, "left"), _t("nil", field="right", text="nil")],
            "condition",
        )
        ret = _t("return_statement", [_t("expression_list", [self.ident(err)])])
        check = _t(
            "if_statement",
            [
                init,
                cond,
                _t("block", [_t("statement_list", [*self.stmts(handler), ret])], "consequence"),
            ],
        )
        return [*self.stmts(body), check]

    def _stmt_return(self, s: Ir) -> Node:
        if s[1] is None:
            return _t("return_statement")
        return _t("return_statement", [_t("expression_list", [self.expr(s[1])])])

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return self.ident("s", field)

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t(
            "selector_expression",
            [self.expr(e[1], "operand"), _t("field_identifier", field="field", text=_pascal(e[2]))],
            field,
        )

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        args = _t("argument_list", [self.expr(a) for a in e[2]], "arguments")
        return _t("call_expression", [self.expr(e[1], "function"), args], field)

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        return self._expr_call(("call", ("name", "New" + e[1]), e[2]), field)

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_expression", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    _expr_cmp = _expr_bin
    _expr_logic = _expr_bin

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        t = "float_literal" if isinstance(e[1], float) else "int_literal"
        return _t(t, field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        ret = _t("return_statement", [_t("expression_list", [self.expr(e[2])])])
        return _t(
            "func_literal",
            [self.params(e[1]), _t("block", [_t("statement_list", [ret])], "body")],
            field,
        )

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return self.expr(e[2], field)  # Go has no conditional expression

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        elems = [_t("literal_element", [self.expr(x)]) for x in e[1]]
        slice_ = _t("slice_type", [_t("type_identifier", field="element", text="any")], "type")
        return _t("composite_literal", [slice_, _t("literal_value", elems, "body")], field)


class _RustSitter(_Sitter):
    lang = "rust"
    blocks = frozenset({"block", "declaration_list", "field_declaration_list", "match_block"})
    modules = (
        "std::collections",
        "std::sync",
        "std::io",
        "serde",
        "crate::error",
        "crate::config",
        "tokio::sync",
        "anyhow",
        "std::fmt",
        "crate::store",
    )

    def string(self, s: str, field: str | None) -> Node:
        return _t("string_literal", [_t("string_content", text=s)] if s else None, field, text='""')

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        return _t("block", self.stmts(body), field)

    def path(self, module: str, field: str | None = None) -> Node:
        parts = module.split("::")
        node = _t("crate", text="crate") if parts[0] == "crate" else self.ident(parts[0])
        for p in parts[1:]:
            node = _t("scoped_identifier", [_with_field(node, "path"), self.ident(p, "name")])
        return _with_field(node, field)

    def _item_import(self, it: Ir) -> list[Node]:
        _, module, names = it
        if len(names) == 1:
            return [_t("use_declaration", [self.path(module + "::" + names[0], "argument")])]
        use_list = _t("use_list", [self.ident(n) for n in names], "list")
        return [
            _t(
                "use_declaration",
                [_t("scoped_use_list", [self.path(module, "path"), use_list], "argument")],
            )
        ]

    def params(self, params: Sequence[str], self_: bool = False) -> Node:
        kids = [_t("self_parameter", [_t("self", text="self")])] if self_ else []
        kids += [
            _t(
                "parameter",
                [
                    self.ident(p, "pattern"),
                    _t(
                        "primitive_type",
                        field="type",
                        text=self.rng.choice(("usize", "u32", "bool", "i64")),
                    ),
                ],
            )
            for p in params
        ]
        return _t("parameters", kids, "parameters")

    def function(
        self, name: str, params: Sequence[str], body: Sequence[Ir], pub: bool, self_: bool = False
    ) -> Node:
        kids = [_t("visibility_modifier", text="pub")] if pub else []
        kids += [self.ident(name, "name"), self.params(params, self_)]
        if self.rng.random() < 0.5:
            kids.append(_t("type_identifier", field="return_type", text="Result"))
        kids.append(self.block(body))
        return _t("function_item", kids)

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, exported, _ = it
        return [self.function(name, params, body, exported)]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, _base, fields, methods = it
        derive = _t(
            "attribute_item",
            [
                _t(
                    "attribute",
                    [
                        self.ident("derive"),
                        _t("token_tree", [self.ident("Debug"), self.ident("Clone")], "arguments"),
                    ],
                )
            ],
        )
        decls = [
            _t(
                "field_declaration",
                [
                    _t("field_identifier", field="name", text=f),
                    _t("type_identifier", field="type", text="String"),
                ],
            )
            for f, _ in fields
        ]
        struct = _t(
            "struct_item",
            [
                _t("visibility_modifier", text="pub"),
                _t("type_identifier", field="name", text=name),
                _t("field_declaration_list", decls, "body"),
            ],
        )
        fns = [self.function(m, p, b, True, self_=True) for _, m, p, b in methods]
        impl = _t(
            "impl_item",
            [_t("type_identifier", field="type", text=name), _t("declaration_list", fns, "body")],
        )
        return [derive, struct, impl]

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        return [
            _t(
                "const_item",
                [
                    self.ident(name.upper(), "name"),
                    _t("primitive_type", field="type", text="usize"),
                    self.expr(value, "value"),
                ],
            )
        ]

    def _stmt_let(self, s: Ir) -> Node:
        return _t("let_declaration", [self.ident(s[1], "pattern"), self.expr(s[2], "value")])

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment_expression", [self.expr(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        if self.rng.random() < 0.15:
            return _t(
                "expression_statement",
                [
                    _t(
                        "macro_invocation",
                        [
                            self.ident("println", "macro"),
                            _t("token_tree", [self.string("{}", None)]),
                        ],
                    )
                ],
            )
        return _t("expression_statement", [self.expr(s[1])])

    def _if(self, s: Ir, field: str | None = None) -> Node:
        _, cond, then, orelse = s
        kids = [self.expr(cond, "condition"), self.block(then, "consequence")]
        if orelse:
            inner = (
                self._if(orelse[0])
                if len(orelse) == 1 and orelse[0][0] == "if"
                else (self.block(orelse, None))
            )
            kids.append(_t("else_clause", [inner], "alternative"))
        return _t("if_expression", kids, field)

    def _stmt_if(self, s: Ir) -> Node:
        return _t("expression_statement", [self._if(s)])

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return _t(
            "expression_statement",
            [
                _t(
                    "for_expression",
                    [self.ident(var, "pattern"), self.expr(iterable, "value"), self.block(body)],
                )
            ],
        )

    def _stmt_while(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("while_expression", [self.expr(s[1], "condition"), self.block(s[2])])],
        )

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        arms = [
            _t(
                "match_arm",
                [_t("match_pattern", [self.expr(v)], "pattern"), self.block(b, "value")],
            )
            for v, b in cases
        ]
        if default:
            arms.append(
                _t(
                    "match_arm",
                    [_t("match_pattern", field="pattern", text="_"), self.block(default, "value")],
                )
            )
        return _t(
            "expression_statement",
            [
                _t(
                    "match_expression",
                    [self.expr(subject, "value"), _t("match_block", arms, "body")],
                )
            ],
        )

    def _stmt_try(self, s: Ir) -> list[Node]:
        _, body, err, _handler = s  # `?` propagates the error: no handler in Rust
        call = self.expr(("call", ("name", self.names.func()), []))
        let = _t(
            "let_declaration", [self.ident(err, "pattern"), _t("try_expression", [call], "value")]
        )
        return [let, *self.stmts(body)]

    def _stmt_return(self, s: Ir) -> Node:
        kids = [self.expr(s[1])] if s[1] else None
        return _t("expression_statement", [_t("return_expression", kids, text="return")])

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return _t("self", field=field, text="self")

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t(
            "field_expression",
            [self.expr(e[1], "value"), _t("field_identifier", field="field", text=e[2])],
            field,
        )

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        return _t(
            "call_expression",
            [
                self.expr(e[1], "function"),
                _t("arguments", [self.expr(a) for a in e[2]], "arguments"),
            ],
            field,
        )

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        callee = _t(
            "scoped_identifier",
            [_t("identifier", field="path", text=e[1]), self.ident("new", "name")],
            "function",
        )
        return _t(
            "call_expression",
            [callee, _t("arguments", [self.expr(a) for a in e[2]], "arguments")],
            field,
        )

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_expression", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    _expr_cmp = _expr_bin
    _expr_logic = _expr_bin

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        t = "float_literal" if isinstance(e[1], float) else "integer_literal"
        return _t(t, field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        ps = _t("closure_parameters", [self.ident(p) for p in e[1]], "parameters")
        return _t("closure_expression", [ps, self.expr(e[2], "body")], field)

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return _t(
            "if_expression",
            [
                self.expr(e[1], "condition"),
                _t("block", [self.expr(e[2])], "consequence"),
                _t("else_clause", [_t("block", [self.expr(e[3])])], "alternative"),
            ],
            field,
        )

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        return _t(
            "macro_invocation",
            [self.ident("vec", "macro"), _t("token_tree", [self.expr(x) for x in e[1]])],
            field,
        )


class _JavaSitter(_Sitter):
    lang = "java"
    blocks = frozenset({"block", "class_body", "switch_block", "interface_body"})
    modules = (
        "java.util",
        "java.io",
        "java.util.concurrent",
        "java.nio.file",
        "java.time",
        "com.acme.core",
        "org.slf4j",
        "java.util.function",
    )

    def string(self, s: str, field: str | None) -> Node:
        return _t(
            "string_literal", [_t("string_fragment", text=s)] if s else None, field, text='""'
        )

    def scoped(self, dotted: str, field: str | None = None) -> Node:
        parts = dotted.split(".")
        node = self.ident(parts[0])
        for p in parts[1:]:
            node = _t("scoped_identifier", [_with_field(node, "scope"), self.ident(p, "name")])
        return _with_field(node, field)

    def preamble(self) -> list[Node]:
        return [_t("package_declaration", [self.scoped("com.acme." + self.rng.choice(_NOUNS))])]

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        return _t("block", self.stmts(body), field)

    def type_(self, field: str = "type") -> Node:
        r = self.rng.random()
        if r < 0.4:
            return _t("integral_type", field=field, text="int")
        if r < 0.5:
            return _t("boolean_type", field=field, text="boolean")
        return _t(
            "type_identifier",
            field=field,
            text=self.rng.choice(("String", "Object", "List", "Map", "Long")),
        )

    def method(self, name: str, params: Sequence[str], body: Sequence[Ir], static: bool) -> Node:
        mods = _t("modifiers", text="public static" if static else "public")
        ps = _t(
            "formal_parameters",
            [_t("formal_parameter", [self.type_(), self.ident(p, "name")]) for p in params],
            "parameters",
        )
        ret = (
            _t("void_type", field="type", text="void")
            if self.rng.random() < 0.4
            else (self.type_())
        )
        return _t("method_declaration", [mods, ret, self.ident(name, "name"), ps, self.block(body)])

    def _item_import(self, it: Ir) -> list[Node]:
        return [_t("import_declaration", [self.scoped(it[1] + "." + it[2][0])])]

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, _exported, _ = it
        return [self.method(name, params, body, True)]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, base, fields, methods = it
        members = [
            _t(
                "field_declaration",
                [
                    _t("modifiers", text="private"),
                    self.type_(),
                    _t(
                        "variable_declarator",
                        [self.ident(f, "name"), self.expr(v, "value")],
                        "declarator",
                    ),
                ],
            )
            for f, v in fields
        ]
        members += [self.method(m, p, b, False) for _, m, p, b in methods]
        kids = [_t("modifiers", text="static final"), self.ident(name, "name")]
        if base:
            kids.append(_t("superclass", [_t("type_identifier", text=base)], "superclass"))
        kids.append(_t("class_body", members, "body"))
        return [_t("class_declaration", kids)]

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        return [
            _t(
                "field_declaration",
                [
                    _t("modifiers", text="private static final"),
                    self.type_(),
                    _t(
                        "variable_declarator",
                        [self.ident(name.upper(), "name"), self.expr(value, "value")],
                        "declarator",
                    ),
                ],
            )
        ]

    def _stmt_let(self, s: Ir) -> Node:
        return _t(
            "local_variable_declaration",
            [
                self.type_(),
                _t(
                    "variable_declarator",
                    [self.ident(s[1], "name"), self.expr(s[2], "value")],
                    "declarator",
                ),
            ],
        )

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment_expression", [self.expr(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return _t("expression_statement", [self.expr(s[1])])

    def _stmt_if(self, s: Ir, field: str | None = None) -> Node:
        _, cond, then, orelse = s
        kids = [
            _t("parenthesized_expression", [self.expr(cond)], "condition"),
            self.block(then, "consequence"),
        ]
        if orelse:
            kids.append(
                self._stmt_if(orelse[0], "alternative")
                if len(orelse) == 1 and orelse[0][0] == "if"
                else self.block(orelse, "alternative")
            )
        return _t("if_statement", kids, field)

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return _t(
            "enhanced_for_statement",
            [self.type_(), self.ident(var, "name"), self.expr(iterable, "value"), self.block(body)],
        )

    def _stmt_while(self, s: Ir) -> Node:
        cond = _t("parenthesized_expression", [self.expr(s[1])], "condition")
        return _t("while_statement", [cond, self.block(s[2])])

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        groups = [
            _t(
                "switch_block_statement_group",
                [_t("switch_label", [self.expr(v)]), *self.stmts(b), _t("break_statement")],
            )
            for v, b in cases
        ]
        if default:
            groups.append(
                _t(
                    "switch_block_statement_group",
                    [_t("switch_label", text="default"), *self.stmts(default)],
                )
            )
        cond = _t("parenthesized_expression", [self.expr(subject)], "condition")
        return _t("switch_expression", [cond, _t("switch_block", groups, "body")])

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        param = _t(
            "catch_formal_parameter",
            [
                _t(
                    "catch_type",
                    [
                        _t(
                            "type_identifier",
                            text=self.rng.choice(("IOException", "RuntimeException", "Exception")),
                        )
                    ],
                ),
                self.ident(err, "name"),
            ],
        )
        catch = _t("catch_clause", [param, self.block(handler)])
        return _t("try_statement", [self.block(body), catch])

    def _stmt_return(self, s: Ir) -> Node:
        return _t("return_statement", [self.expr(s[1])] if s[1] else None)

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return _t("this", field=field, text="this")

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t("field_access", [self.expr(e[1], "object"), self.ident(e[2], "field")], field)

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        callee = e[1]
        args = _t("argument_list", [self.expr(a) for a in e[2]], "arguments")
        if callee[0] == "attr":
            kids = [self.expr(callee[1], "object"), self.ident(callee[2], "name"), args]
        else:
            kids = [self.ident(callee[1], "name"), args]
        return _t("method_invocation", kids, field)

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        return _t(
            "object_creation_expression",
            [
                _t("type_identifier", field="type", text=e[1]),
                _t("argument_list", [self.expr(a) for a in e[2]], "arguments"),
            ],
            field,
        )

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_expression", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    _expr_cmp = _expr_bin
    _expr_logic = _expr_bin

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        t = (
            "decimal_floating_point_literal"
            if isinstance(e[1], float)
            else ("decimal_integer_literal")
        )
        return _t(t, field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        return _t(
            "lambda_expression", [self.ident(e[1][0], "parameters"), self.expr(e[2], "body")], field
        )

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return _t(
            "ternary_expression",
            [
                self.expr(e[1], "condition"),
                self.expr(e[2], "consequence"),
                self.expr(e[3], "alternative"),
            ],
            field,
        )

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        return self._expr_call(("call", ("attr", ("name", "List"), "of"), e[1]), field)


class _PySitter(_Sitter):
    lang = "python"
    blocks = frozenset({"block"})
    modules = _PY_MODULES

    def string(self, s: str, field: str | None) -> Node:
        kids = [_t("string_start", text='"')]
        if s:
            kids.append(_t("string_content", text=s))
        kids.append(_t("string_end", text='"'))
        return _t("string", kids, field)

    def block(self, body: Sequence[Ir], field: str | None = "body") -> Node:
        return _t("block", self.stmts(body) or [_t("pass_statement", text="pass")], field)

    def dotted(self, name: str, field: str | None = None) -> Node:
        return _t("dotted_name", [self.ident(p) for p in name.split(".")], field)

    def _item_import(self, it: Ir) -> list[Node]:
        _, module, names = it
        if self.rng.random() < 0.5:
            return [_t("import_statement", [self.dotted(module, "name")])]
        return [
            _t(
                "import_from_statement",
                [self.dotted(module, "module_name"), *(self.dotted(n, "name") for n in names)],
            )
        ]

    def function(self, name: str, params: Sequence[str], body: Sequence[Ir], method: bool) -> Node:
        ps = [self.ident("self")] if method else []
        for p in params:
            if self.rng.random() < 0.3:
                ps.append(
                    _t("typed_parameter", [self.ident(p), _t("type", [self.ident("str")], "type")])
                )
            else:
                ps.append(self.ident(p))
        kids = [self.ident(name, "name"), _t("parameters", ps, "parameters")]
        if self.rng.random() < 0.3:
            kids.append(_t("type", [_t("none", text="None")], "return_type"))
        kids.append(self.block(body))
        return _t("function_definition", kids)

    def _item_func(self, it: Ir) -> list[Node]:
        _, name, params, body, _exported, _ = it
        fn = self.function(name, params, body, False)
        if self.rng.random() < 0.1:
            return [
                _t(
                    "decorated_definition",
                    [_t("decorator", [self.ident("cache")]), _with_field(fn, "definition")],
                )
            ]
        return [fn]

    def _item_class(self, it: Ir) -> list[Node]:
        _, name, base, fields, methods = it
        body = [
            _t(
                "expression_statement",
                [_t("assignment", [self.ident(f, "left"), self.expr(v, "right")])],
            )
            for f, v in fields
        ]
        body += [self.function(m, p, b, True) for _, m, p, b in methods]
        kids = [self.ident(name, "name")]
        if base:
            kids.append(_t("argument_list", [self.ident(base)], "superclasses"))
        kids.append(_t("block", body or [_t("pass_statement", text="pass")], "body"))
        return [_t("class_definition", kids)]

    def _item_var(self, it: Ir) -> list[Node]:
        _, name, value, _ = it
        return [
            _t(
                "expression_statement",
                [_t("assignment", [self.ident(name.upper(), "left"), self.expr(value, "right")])],
            )
        ]

    def _stmt_let(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment", [self.ident(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_set(self, s: Ir) -> Node:
        return _t(
            "expression_statement",
            [_t("assignment", [self.expr(s[1], "left"), self.expr(s[2], "right")])],
        )

    def _stmt_expr(self, s: Ir) -> Node:
        return _t("expression_statement", [self.expr(s[1])])

    def _stmt_if(self, s: Ir) -> Node:
        _, cond, then, orelse = s
        kids = [self.expr(cond, "condition"), self.block(then, "consequence")]
        while orelse:
            if len(orelse) == 1 and orelse[0][0] == "if":
                _, c2, t2, orelse = orelse[0]
                kids.append(
                    _t(
                        "elif_clause",
                        [self.expr(c2, "condition"), self.block(t2, "consequence")],
                        "alternative",
                    )
                )
            else:
                kids.append(_t("else_clause", [self.block(orelse)], "alternative"))
                break
        return _t("if_statement", kids)

    def _stmt_for(self, s: Ir) -> Node:
        _, var, iterable, body = s
        return _t(
            "for_statement",
            [self.ident(var, "left"), self.expr(iterable, "right"), self.block(body)],
        )

    def _stmt_while(self, s: Ir) -> Node:
        return _t("while_statement", [self.expr(s[1], "condition"), self.block(s[2])])

    def _stmt_switch(self, s: Ir) -> Node:
        _, subject, cases, default = s
        clauses = [
            _t("case_clause", [_t("case_pattern", [self.expr(v)]), self.block(b, "consequence")])
            for v, b in cases
        ]
        if default:
            clauses.append(
                _t(
                    "case_clause",
                    [_t("case_pattern", text="_"), self.block(default, "consequence")],
                )
            )
        return _t("match_statement", [self.expr(subject, "subject"), _t("block", clauses, "body")])

    def _stmt_try(self, s: Ir) -> Node:
        _, body, err, handler = s
        exc = _t(
            "as_pattern",
            [self.ident("OSError"), _t("as_pattern_target", [self.ident(err)], "alias")],
        )
        return _t(
            "try_statement",
            [self.block(body), _t("except_clause", [exc, self.block(handler, None)])],
        )

    def _stmt_return(self, s: Ir) -> Node:
        return _t("return_statement", [self.expr(s[1])] if s[1] else None)

    def _expr_this(self, e: Ir, field: str | None) -> Node:
        return self.ident("self", field)

    def _expr_attr(self, e: Ir, field: str | None) -> Node:
        return _t("attribute", [self.expr(e[1], "object"), self.ident(e[2], "attribute")], field)

    def _expr_call(self, e: Ir, field: str | None) -> Node:
        return _t(
            "call",
            [
                self.expr(e[1], "function"),
                _t("argument_list", [self.expr(a) for a in e[2]], "arguments"),
            ],
            field,
        )

    def _expr_new(self, e: Ir, field: str | None) -> Node:
        return self._expr_call(("call", ("name", e[1]), e[2]), field)

    def _expr_bin(self, e: Ir, field: str | None) -> Node:
        return _t("binary_operator", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    def _expr_cmp(self, e: Ir, field: str | None) -> Node:
        return _t("comparison_operator", [self.expr(e[2]), self.expr(e[3])], field)

    def _expr_logic(self, e: Ir, field: str | None) -> Node:
        return _t("boolean_operator", [self.expr(e[2], "left"), self.expr(e[3], "right")], field)

    def _expr_num(self, e: Ir, field: str | None) -> Node:
        return _t("float" if isinstance(e[1], float) else "integer", field=field, text=str(e[1]))

    def _expr_lambda(self, e: Ir, field: str | None) -> Node:
        ps = _t("lambda_parameters", [self.ident(p) for p in e[1]], "parameters")
        return _t("lambda", [ps, self.expr(e[2], "body")], field)

    def _expr_cond(self, e: Ir, field: str | None) -> Node:
        return _t(
            "conditional_expression", [self.expr(e[2]), self.expr(e[1]), self.expr(e[3])], field
        )

    def _expr_list(self, e: Ir, field: str | None) -> Node:
        return _t("list", [self.expr(x) for x in e[1]], field)


_SITTERS: dict[str, type[_Sitter]] = {
    "go": _GoSitter, "rust": _RustSitter, "java": _JavaSitter, "python": _PySitter,
}  # fmt: skip


class _SitterDoc(_Doc):
    """A py-tree-sitter dump in its envelope; Java's units live in one top-level class."""

    bps = 600.0

    def __init__(
        self,
        rng: random.Random,
        lang: str,
        path: str,
        *,
        errors: bool = False,
        target: int = 1 << 30,
    ) -> None:
        super().__init__(rng)
        self.lang = lang
        self.path = path
        names = _Names(rng, snake=lang in ("python", "rust"))
        self.r = _SITTERS[lang](rng, names)
        self.program = _Program(
            rng, names, imports=_cap_imports(self.r.imports(), target), unicode=False
        )
        self.errors = errors
        self.cur.line = -1  # rows are 0-based
        self.pre: list[bytes] = []
        self.java_class: Node | None = None
        self.indent = 0
        for node in self.r.preamble():
            self._put(node, self.pre)
        if lang == "java":
            while self.program.pending:
                it, _ = self.program.item(1)
                for node in self.r.item(it):
                    self._put(node, self.pre)
            self._open_java_class(names)

    def _open_java_class(self, names: _Names) -> None:
        self.cur.newline(0)
        start = [self.cur.line, self.cur.col]
        mods = _t("modifiers", text="public final")
        ident = self.r.ident(names.cls(), "name")
        self.layout(mods, 0, False)
        self.cur.skip(7)
        self.layout(ident, 0, False)
        body = _t("class_body", [_SENTINEL], "body")  # type: ignore[list-item]
        body["start_point"] = [self.cur.line, self.cur.col + 1]
        self.java_class = _t("class_declaration", [mods, ident, body])
        self.java_class["start_point"] = start
        self.indent = 4

    def _put(self, node: Node, out: list[bytes]) -> None:
        self.layout(node, self.indent, True)
        out.append(orjson.dumps(node))

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        cur = self.cur
        if stmt:
            cur.newline(indent)
        start = [cur.line, cur.col]
        kids = node["children"]
        if not kids:
            if "missing" not in node:
                cur.skip(len(node["text"]) or 1)
        elif node["type"] in self.r.blocks:
            cur.skip(1)
            for k in kids:
                self.layout(k, indent + 4, True)
            cur.newline(indent)
            cur.skip(1)
        else:
            cur.skip(1)
            for k in kids:
                self.layout(k, indent, False)
                cur.skip(1)
        node["start_point"] = start
        node["end_point"] = [cur.line, cur.col]

    def overhead(self) -> int:
        return (
            330
            + len(self.path)
            + sum(len(b) + 1 for b in self.pre)
            + (250 if self.java_class else 0)
        )

    def mark(self) -> tuple[Any, ...]:
        return self.cur.state(), len(self.units), len(self.program.functions)

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]
        del self.program.functions[m[2] :]

    def unit(self, size: int) -> tuple[int, int]:
        it, used = self.program.item(size)
        nodes = self.r.item(it)
        if self.errors and self.rng.random() < 0.2:
            nodes.append(self._error())
        n = len(self.units)
        for node in nodes:
            self._put(node, self.units)
        return sum(len(b) + 1 for b in self.units[n:]), used

    def _error(self) -> Node:
        """What a syntax error leaves: an ``ERROR`` node, or a node tree-sitter invented."""
        if self.rng.random() < 0.5:
            return _t(
                "ERROR",
                [self.r.ident(self.rng.choice(_NOUNS)), self.r.ident(self.rng.choice(_NOUNS))],
            )
        call = {
            "go": "call_expression",
            "rust": "call_expression",
            "java": "method_invocation",
            "python": "call",
        }[self.lang]
        args = {
            "go": "argument_list",
            "rust": "arguments",
            "java": "argument_list",
            "python": "argument_list",
        }[self.lang]
        fn = "name" if self.lang == "java" else "function"
        stmt = "expression_statement"
        return _t(
            stmt,
            [
                _t(
                    call,
                    [
                        self.r.ident(self.program.names.func(), fn),
                        _t(args, [_missing("identifier")], "arguments"),
                    ],
                )
            ],
        )

    def finish(self) -> bytes:
        rng = self.rng
        cur = self.cur
        body = b",".join(self.units)
        if self.java_class is not None:
            cur.newline(0)
            cur.skip(1)
            cls = self.java_class
            cls["children"][2]["end_point"] = [cur.line, cur.col]
            cls["end_point"] = [cur.line, cur.col]
            body = b",".join([*self.pre, _splice(orjson.dumps(cls), body)])
        elif self.pre:
            body = b",".join([*self.pre, body]) if body else b",".join(self.pre)
        env = {
            "language": self.lang,
            "parser": {
                "name": "tree-sitter",
                "version": "0.26.1",
                "grammar": f"tree-sitter-{self.lang}",
                "grammar_version": _GRAMMARS[self.lang],
            },
            "source": {"path": self.path, "sha256": _sha(rng), "size": cur.offset},
            "ast": {
                "type": _ROOT_TYPES[self.lang],
                "start_point": [0, 0],
                "end_point": [cur.line + 1, 0],
                "children": [_SENTINEL],
            },
        }
        return _splice(orjson.dumps(env), body)


# --------------------------------------------------------------------------------------------
# clang -Xclang -ast-dump=json, C and C++

_CLANG_BLOCKS = frozenset({
    "CompoundStmt", "RecordDecl", "CXXRecordDecl", "NamespaceDecl", "EnumDecl", "LinkageSpecDecl",
})  # fmt: skip
_CLANG_TOK = {
    "IfStmt": 2, "ForStmt": 3, "CXXForRangeStmt": 3, "WhileStmt": 5, "ReturnStmt": 6,
    "SwitchStmt": 6, "CaseStmt": 4, "DefaultStmt": 7, "BreakStmt": 5, "DeclStmt": 3,
    "CXXTryStmt": 3, "CXXCatchStmt": 5, "CXXThisExpr": 4, "CXXNewExpr": 3,
}  # fmt: skip
_C_TYPES = (
    "int",
    "const char *",
    "size_t",
    "char *",
    "void *",
    "long",
    "unsigned int",
    "int",
    "double",
    "struct stat *",
    "FILE *",
)
_CXX_TYPES = (
    "int",
    "const std::string &",
    "std::size_t",
    "bool",
    "double",
    "const char *",
    "std::vector<int> &",
    "int",
)
_MANGLE = {
    "int": "i",
    "bool": "b",
    "double": "d",
    "const char *": "PKc",
    "std::size_t": "m",
    "const std::string &": "RKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE",
    "std::vector<int> &": "RSt6vectorIiSaIiEE",
}
_DEFINITION_DATA: Node = {
    "canConstDefaultInit": True, "canPassInRegisters": True,
    "copyAssign": {"hasConstParam": True, "implicitHasConstParam": True, "needsImplicit": True,
                   "simple": True, "trivial": True},
    "copyCtor": {"hasConstParam": True, "implicitHasConstParam": True, "needsImplicit": True,
                 "simple": True, "trivial": True},
    "defaultCtor": {"exists": True, "needsImplicit": True, "trivial": True},
    "dtor": {"irrelevant": True, "needsImplicit": True, "simple": True, "trivial": True},
    "hasConstexprNonCopyMoveConstructor": True, "isLiteral": True, "isStandardLayout": True,
    "moveAssign": {"exists": True, "needsImplicit": True, "simple": True, "trivial": True},
    "moveCtor": {"exists": True, "needsImplicit": True, "simple": True, "trivial": True},
}  # fmt: skip
_CDEFS = {
    "offset": 14692,
    "file": "/usr/include/x86_64-linux-gnu/sys/cdefs.h",
    "line": 386,
    "col": 76,
    "tokLen": 1,
    "includedFrom": {"file": "/usr/include/features.h"},
}


class _Clang:
    """Renders declarations and the neutral program as Clang's JSON nodes, with positions."""

    def __init__(
        self,
        rng: random.Random,
        program: _Program,
        *,
        cxx: bool,
        file: str,
        included_from: str | None,
        ids: int,
        null_children: bool = True,
        cur: _Cursor | None = None,
    ) -> None:
        self.rng = rng
        self.program = program
        self.names = program.names
        self.cxx = cxx
        self.file = file
        self.inc = included_from
        self.next_id = ids
        self.null_children = null_children
        self.cur = cur or _Cursor()
        self.types = _CXX_TYPES if cxx else _C_TYPES
        self.funcs: list[tuple[str, str, str]] = []  # callable functions: (name, id, qualType)
        self.extern: list[tuple[str, str, str]] = []  # functions declared by headers
        self.decls: dict[str, tuple[str, str, str]] = {}  # variables: name -> (id, kind, type)
        self.record: str | None = None

    def id(self) -> str:
        self.next_id += 0x10 + ((self.next_id >> 4) & 0x7) * 8
        return f"0x{self.next_id:x}"

    # nodes

    def decl(self, kind: str, f: Node) -> Node:
        d: Node = {"id": self.id(), "kind": kind, "loc": None, "range": None}
        d.update(f)
        return d

    def stmt(self, kind: str, f: Node | None = None) -> Node:
        d: Node = {"id": self.id(), "kind": kind, "range": None}
        if f:
            d.update(f)
        return d

    def ex(
        self, kind: str, qual: str, cat: str, f: Node | None = None, inner: list[Node] | None = None
    ) -> Node:
        d: Node = {
            "id": self.id(),
            "kind": kind,
            "range": None,
            "type": {"qualType": qual},
            "valueCategory": cat,
        }
        if f:
            d.update(f)
        if inner:
            d["inner"] = inner
        return d

    def typ(self, kind: str, qual: str, f: Node | None = None) -> Node:
        d: Node = {"id": self.id(), "kind": kind, "type": {"qualType": qual}}
        if f:
            d.update(f)
        return d

    def rv(self, node: Node) -> Node:
        if node.get("valueCategory") != "lvalue":
            return node
        qual = node["type"]["qualType"]
        if qual.endswith("]"):
            ptr = qual[: qual.index("[")].rstrip() + " *"
            return self.ex(
                "ImplicitCastExpr", ptr, "prvalue", {"castKind": "ArrayToPointerDecay"}, [node]
            )
        return self.ex("ImplicitCastExpr", qual, "prvalue", {"castKind": "LValueToRValue"}, [node])

    # positions

    def loc(self, tok: int) -> Node:
        c = self.cur
        d: Node = {
            "offset": c.offset,
            "file": self.file,
            "line": c.line,
            "col": c.col + 1,
            "tokLen": tok,
        }
        if self.inc is not None:
            d["includedFrom"] = {"file": self.inc}
        return d

    def layout(self, node: Node, indent: int, stmt: bool) -> None:
        if not node or "range" not in node or node["range"] is not None:
            return  # a null child ({}), a type, or an implicit builtin
        cur = self.cur
        if stmt:
            cur.newline(indent)
        name = node.get("name")
        value = node.get("value")
        tok = (
            len(name)
            if name
            else len(value)
            if isinstance(value, str)
            else _CLANG_TOK.get(node["kind"], 1)
        )
        begin = self.loc(4 if "loc" in node else tok)
        if "loc" in node:
            cur.skip(4)
            node["loc"] = self.loc(tok)
        cur.skip(tok)
        inner = node.get("inner")
        if inner:
            block = node["kind"] in _CLANG_BLOCKS
            for child in inner:
                if child.__class__ is dict:
                    self.layout(child, indent + 2 if block else indent, block)
                    cur.skip(1)
            if block:
                cur.newline(indent)
        node["range"] = {"begin": begin, "end": self.loc(1)}
        cur.skip(1)

    # declarations

    def mangle(self, name: str, ptypes: Sequence[str]) -> str:
        if not self.cxx:
            return name
        args = "".join(_MANGLE.get(t, "i") for t in ptypes) or "v"
        if self.record:
            return f"_ZN{len(self.record)}{self.record}{len(name)}{name}E{args}"
        return f"_Z{len(name)}{name}{args}"

    def function(
        self,
        name: str,
        params: Sequence[str],
        body: Sequence[Ir] | None,
        *,
        kind: str = "FunctionDecl",
        storage: str | None = None,
        attrs: Sequence[Node] = (),
    ) -> Node:
        rng = self.rng
        ret = rng.choice(("int", "void", "int", "bool" if self.cxx else "long", "const char *"))
        ptypes = [rng.choice(self.types) for _ in params]
        sep = "" if ret.endswith("*") else " "  # clang spells `char *(int)`, `int (int)`
        qual = f"{ret}{sep}({', '.join(ptypes) or ('' if self.cxx else 'void')})"
        fid = self.id()
        inner: list[Node] = []
        for p, t in zip(params, ptypes, strict=True):
            pd = self.decl("ParmVarDecl", {"name": p, "type": {"qualType": t}})
            self.decls[p] = (pd["id"], "ParmVarDecl", t)
            inner.append(pd)
        f: Node = {"id": fid, "kind": kind, "loc": None, "range": None}
        if rng.random() < 0.3:
            f["isUsed"] = True
        f["name"] = name
        f["mangledName"] = self.mangle(name, ptypes)
        f["type"] = {"qualType": qual}
        if storage:
            f["storageClass"] = storage
        if body is not None and (self.record or self.inc):
            f["inline"] = True
        inner.extend(attrs)
        if body is not None:
            inner.append(self.compound(body))
        if inner:
            f["inner"] = inner
        if kind == "FunctionDecl":
            self.funcs.append((name, fid, qual))
        return f

    def compound(self, body: Sequence[Ir]) -> Node:
        stmts = self.stmts(body)
        return self.stmt("CompoundStmt", {"inner": stmts} if stmts else None)

    def var(self, name: str, value: Ir | None, storage: str | None = None) -> Node:
        t = self.rng.choice(self.types[:3]) if value is None else "int"
        if value is not None and value[0] == "str":
            t = "const char *"
        f: Node = {"name": name, "type": {"qualType": t}}
        if storage:
            f["storageClass"] = storage
        if value is not None:
            f["init"] = "c"
            f["inner"] = [self.rv(self.e(value))]
        node = self.decl("VarDecl", f)
        self.decls[name] = (node["id"], "VarDecl", t)
        return node

    def item(self, it: Ir) -> list[Node]:
        k = it[0]
        if k == "func":
            _, name, params, body, exported, _ = it
            storage = None if exported or self.cxx else "static"
            return [self.function(name, params, body, storage=storage)]
        if k == "var":
            return [self.var(it[1].upper(), it[2], "static")]
        if k == "class":
            return self.cxx_class(it) if self.cxx else self.c_struct(it)
        return []

    def c_struct(self, it: Ir) -> list[Node]:
        _, name, _base, fields, methods = it
        tag = "_".join(w.lower() for w in _split_pascal(name))
        decls = [
            self.decl("FieldDecl", {"name": f, "type": {"qualType": self.rng.choice(self.types)}})
            for f, _ in fields
        ] or [self.decl("FieldDecl", {"name": "flags", "type": {"qualType": "int"}})]
        struct = self.decl(
            "RecordDecl",
            {"name": tag, "tagUsed": "struct", "completeDefinition": True, "inner": decls},
        )
        self.decls["self"] = (self.id(), "ParmVarDecl", f"struct {tag} *")
        fns = [self.function(f"{tag}_{m}", ("self", *p), b) for _, m, p, b in methods]
        return [struct, *fns]

    def cxx_class(self, it: Ir) -> list[Node]:
        _, name, base, fields, methods = it
        self.record = name
        inner = [
            self.decl("CXXRecordDecl", {"isImplicit": True, "name": name, "tagUsed": "class"}),
            self.decl("AccessSpecDecl", {"access": "public"}),
        ]
        inner += [self.function(m, p, b, kind="CXXMethodDecl") for _, m, p, b in methods]
        if self.rng.random() < 0.3:
            inner.append(
                self.decl(
                    "CXXDestructorDecl",
                    {
                        "isImplicit": True,
                        "isReferenced": True,
                        "name": "~" + name,
                        "mangledName": f"_ZN{len(name)}{name}D1Ev",
                        "type": {"qualType": "void () noexcept"},
                        "inline": True,
                        "explicitlyDefaulted": "default",
                    },
                )
            )
        if fields:
            inner.append(self.decl("AccessSpecDecl", {"access": "private"}))
            inner += [
                self.decl(
                    "FieldDecl",
                    {"name": f + "_", "type": {"qualType": self.rng.choice(self.types)}},
                )
                for f, _ in fields
            ]
        self.record = None
        f: Node = {
            "name": name,
            "tagUsed": "class",
            "completeDefinition": True,
            "definitionData": _DEFINITION_DATA,
        }
        if base:
            f["bases"] = [
                {"access": "public", "type": {"qualType": base}, "writtenAccess": "public"}
            ]
        f["inner"] = inner
        return [self.decl("CXXRecordDecl", f)]

    # statements

    def stmts(self, body: Sequence[Ir]) -> list[Node]:
        out: list[Node] = []
        for s in body:
            out.extend(getattr(self, "_s_" + s[0])(s))
        return out

    def cond(self, e: Ir) -> Node:
        node = self.rv(self.e(e))
        if self.cxx and node["type"]["qualType"] != "bool":
            return self.ex(
                "ImplicitCastExpr", "bool", "prvalue", {"castKind": "IntegralToBoolean"}, [node]
            )
        return node

    def _s_let(self, s: Ir) -> list[Node]:
        return [self.stmt("DeclStmt", {"inner": [self.var(s[1], s[2])]})]

    def _s_set(self, s: Ir) -> list[Node]:
        cat = "lvalue" if self.cxx else "prvalue"
        return [
            self.ex(
                "BinaryOperator", "int", cat, {"opcode": "="}, [self.e(s[1]), self.rv(self.e(s[2]))]
            )
        ]

    def _s_expr(self, s: Ir) -> list[Node]:
        return [self.e(s[1])]

    def _s_if(self, s: Ir) -> list[Node]:
        _, cond, then, orelse = s
        inner = [self.cond(cond), self.compound(then)]
        f: Node = {}
        if orelse:
            f["hasElse"] = True
            if len(orelse) == 1 and orelse[0][0] == "if":
                inner.extend(self._s_if(orelse[0]))
            else:
                inner.append(self.compound(orelse))
        f["inner"] = inner
        return [self.stmt("IfStmt", f)]

    def _s_for(self, s: Ir) -> list[Node]:
        _, var, iterable, body = s
        if self.cxx and self.rng.random() < 0.5:
            return [self._range_for(var, iterable, body)]
        init = self.stmt("DeclStmt", {"inner": [self.var("i", ("num", 0))]})
        test = self.ex(
            "BinaryOperator",
            "bool" if self.cxx else "int",
            "prvalue",
            {"opcode": "<"},
            [self.rv(self.e(("name", "i"))), self.rv(self.e(iterable))],
        )
        inc = self.ex(
            "UnaryOperator",
            "int",
            "prvalue",
            {"isPostfix": True, "opcode": "++"},
            [self.e(("name", "i"))],
        )
        # ForStmt's children are init, condition variable, condition, increment, body; clang
        # writes a null one as {} (the condition variable is null in almost every loop).
        inner = [init, {}, test, inc, self.compound(body)]
        if not self.null_children:
            del inner[1]
        return [self.stmt("ForStmt", {"inner": inner})]

    def _range_for(self, var: str, iterable: Ir, body: Sequence[Ir]) -> Node:
        def hidden(name: str, value: Ir) -> Node:
            return self.stmt("DeclStmt", {"inner": [self.var(name, value)]})

        ne = self.ex(
            "BinaryOperator",
            "bool",
            "prvalue",
            {"opcode": "!="},
            [self.rv(self.e(("name", "__begin1"))), self.rv(self.e(("name", "__end1")))],
        )
        inc = self.ex(
            "UnaryOperator",
            "int *",
            "lvalue",
            {"isPostfix": False, "opcode": "++"},
            [self.e(("name", "__begin1"))],
        )
        inner = [
            {},
            hidden("__range1", iterable),
            hidden("__begin1", ("name", "__range1")),
            hidden("__end1", ("name", "__range1")),
            ne,
            inc,
            hidden(var, ("name", "__begin1")),
            self.compound(body),
        ]
        if not self.null_children:
            del inner[0]
        return self.stmt("CXXForRangeStmt", {"inner": inner})

    def _s_while(self, s: Ir) -> list[Node]:
        return [self.stmt("WhileStmt", {"inner": [self.cond(s[1]), self.compound(s[2])]})]

    def _s_switch(self, s: Ir) -> list[Node]:
        _, subject, cases, default = s
        body: list[Node] = []
        for i, (_value, stmts) in enumerate(cases):
            rendered = self.stmts(stmts) or [self.stmt("NullStmt")]
            lit = self.ex("IntegerLiteral", "int", "prvalue", {"value": str(i)})
            label = self.ex("ConstantExpr", "int", "prvalue", {"value": str(i)}, [lit])
            body.append(self.stmt("CaseStmt", {"inner": [label, rendered[0]]}))
            body.extend(rendered[1:])
            body.append(self.stmt("BreakStmt"))
        if default:
            rendered = self.stmts(default) or [self.stmt("NullStmt")]
            body.append(self.stmt("DefaultStmt", {"inner": [rendered[0]]}))
            body.extend(rendered[1:])
        return [
            self.stmt(
                "SwitchStmt",
                {"inner": [self.rv(self.e(subject)), self.stmt("CompoundStmt", {"inner": body})]},
            )
        ]

    def _s_try(self, s: Ir) -> list[Node]:
        _, body, err, handler = s
        if not self.cxx:
            check: Ir = ("cmp", "<", ("call", ("name", self.names.func()), []), ("num", 0))
            return [*self.stmts(body), *self._s_if(("if", check, handler, None))]
        exc = self.decl("VarDecl", {"name": err, "type": {"qualType": "const std::exception &"}})
        catch = self.stmt("CXXCatchStmt", {"inner": [exc, self.compound(handler)]})
        return [self.stmt("CXXTryStmt", {"inner": [self.compound(body), catch]})]

    def _s_return(self, s: Ir) -> list[Node]:
        return [self.stmt("ReturnStmt", {"inner": [self.rv(self.e(s[1]))]} if s[1] else None)]

    # expressions

    def e(self, x: Ir) -> Node:
        return getattr(self, "_e_" + x[0])(x)  # type: ignore[no-any-return]

    def ref(self, name: str) -> Node:
        found = self.decls.get(name)
        if found is None:
            found = (self.id(), "VarDecl", "int")
            self.decls[name] = found
        did, kind, qual = found
        return self.ex(
            "DeclRefExpr",
            qual,
            "lvalue",
            {"referencedDecl": {"id": did, "kind": kind, "name": name, "type": {"qualType": qual}}},
        )

    def _e_name(self, x: Ir) -> Node:
        return self.ref(x[1])

    def _e_this(self, x: Ir) -> Node:
        if self.cxx and self.record:
            return self.ex("CXXThisExpr", f"{self.record} *", "prvalue", {"implicit": True})
        return self.ref("self")

    def _e_attr(self, x: Ir) -> Node:
        return self.ex(
            "MemberExpr",
            "int",
            "lvalue",
            {"name": x[2], "isArrow": True, "referencedMemberDecl": self.id()},
            [self.rv(self.e(x[1]))],
        )

    def _e_call(self, x: Ir) -> Node:
        callee, args = x[1], [self.rv(self.e(a)) for a in x[2]]
        if callee[0] == "attr" and self.cxx:
            member = self.ex(
                "MemberExpr",
                "<bound member function type>",
                "prvalue",
                {"name": callee[2], "isArrow": True, "referencedMemberDecl": self.id()},
                [self.rv(self.e(callee[1]))],
            )
            return self.ex("CXXMemberCallExpr", "int", "prvalue", None, [member, *args])
        name = callee[1] if callee[0] == "name" else callee[2]
        known = [f for f in self.funcs if f[0] == name]
        if known:
            fname, fid, qual = known[0]
        elif self.extern and self.rng.random() < 0.7:
            fname, fid, qual = self.rng.choice(self.extern)
        else:
            fname, fid, qual = name, self.id(), "int ()" if self.cxx else "int (void)"
        ref = self.ex(
            "DeclRefExpr",
            qual,
            "lvalue",
            {
                "referencedDecl": {
                    "id": fid,
                    "kind": "FunctionDecl",
                    "name": fname,
                    "type": {"qualType": qual},
                }
            },
        )
        ptr = qual.replace("(", "(*)(", 1)
        decay = self.ex(
            "ImplicitCastExpr", ptr, "prvalue", {"castKind": "FunctionToPointerDecay"}, [ref]
        )
        ret = qual.split("(", 1)[0].rstrip()
        return self.ex("CallExpr", ret, "prvalue", None, [decay, *args])

    def _e_new(self, x: Ir) -> Node:
        if not self.cxx:
            return self._e_call(("call", ("name", "malloc"), [("num", 64)]))
        ctor = self.ex(
            "CXXConstructExpr",
            x[1],
            "prvalue",
            {"ctorType": "void () noexcept", "hadMultipleCandidates": False},
        )
        return self.ex(
            "CXXNewExpr",
            x[1] + " *",
            "prvalue",
            {
                "operatorNewDecl": {
                    "id": self.id(),
                    "kind": "FunctionDecl",
                    "name": "operator new",
                    "type": {"qualType": "void *(unsigned long)"},
                }
            },
            [ctor],
        )

    def _binary(self, x: Ir, qual: str) -> Node:
        return self.ex(
            "BinaryOperator",
            qual,
            "prvalue",
            {"opcode": x[1]},
            [self.rv(self.e(x[2])), self.rv(self.e(x[3]))],
        )

    def _e_bin(self, x: Ir) -> Node:
        return self._binary(x, "int")

    def _e_cmp(self, x: Ir) -> Node:
        return self._binary(x, "bool" if self.cxx else "int")

    _e_logic = _e_cmp

    def _e_not(self, x: Ir) -> Node:
        return self.ex(
            "UnaryOperator",
            "bool" if self.cxx else "int",
            "prvalue",
            {"isPostfix": False, "opcode": "!", "canOverflow": False},
            [self.rv(self.e(x[1]))],
        )

    def _e_str(self, x: Ir) -> Node:
        s = x[1]
        n = len(s.encode()) + 1
        qual = f"const char[{n}]" if self.cxx else f"char[{n}]"
        return self.ex("StringLiteral", qual, "lvalue", {"value": '"' + s + '"'})

    def _e_num(self, x: Ir) -> Node:
        v = x[1]
        if isinstance(v, float):
            return self.ex("FloatingLiteral", "double", "prvalue", {"value": repr(v)})
        if v < 0:
            lit = self.ex("IntegerLiteral", "int", "prvalue", {"value": str(-v)})
            return self.ex(
                "UnaryOperator", "int", "prvalue", {"isPostfix": False, "opcode": "-"}, [lit]
            )
        return self.ex("IntegerLiteral", "int", "prvalue", {"value": str(v)})

    def _e_bool(self, x: Ir) -> Node:
        if self.cxx:
            return self.ex("CXXBoolLiteralExpr", "bool", "prvalue", {"value": x[1]})
        return self.ex("IntegerLiteral", "int", "prvalue", {"value": "1" if x[1] else "0"})

    def _e_null(self, x: Ir) -> Node:
        if self.cxx:
            return self.ex("CXXNullPtrLiteralExpr", "std::nullptr_t", "prvalue")
        zero = self.ex("IntegerLiteral", "int", "prvalue", {"value": "0"})
        cast = self.ex("CStyleCastExpr", "void *", "prvalue", {"castKind": "NullToPointer"}, [zero])
        return self.ex("ParenExpr", "void *", "prvalue", None, [cast])

    def _e_lambda(self, x: Ir) -> Node:
        if not self.cxx:
            return self.ref(self.names.func())
        body = self.stmt(
            "CompoundStmt", {"inner": [self.stmt("ReturnStmt", {"inner": [self.rv(self.e(x[2]))]})]}
        )
        saved, self.record = self.record, "__lambda"
        op = self.function("operator()", x[1], [("return", x[2])], kind="CXXMethodDecl")
        self.record = saved
        cls = self.decl(
            "CXXRecordDecl",
            {
                "isImplicit": True,
                "tagUsed": "class",
                "completeDefinition": True,
                "definitionData": _DEFINITION_DATA,
                "inner": [op],
            },
        )
        return self.ex("LambdaExpr", "(lambda)", "prvalue", None, [cls, body])

    def _e_cond(self, x: Ir) -> Node:
        return self.ex(
            "ConditionalOperator",
            "int",
            "prvalue",
            None,
            [self.cond(x[1]), self.rv(self.e(x[2])), self.rv(self.e(x[3]))],
        )

    def _e_list(self, x: Ir) -> Node:
        elems = [self.rv(self.e(v)) for v in x[1]]
        return self.ex("InitListExpr", f"int[{len(elems)}]", "prvalue", None, elems)

    # what headers declare

    def header_decl(self) -> Node:
        r = self.rng.random()
        if r < 0.55:
            return self.prototype()
        if r < 0.75:
            return self.typedef()
        if r < 0.88:
            return self.struct_decl()
        if r < 0.95:
            return self.enum_decl()
        name = self.names.var()
        return self.decl(
            "VarDecl", {"name": name, "type": {"qualType": "int"}, "storageClass": "extern"}
        )

    def prototype(self) -> Node:
        rng = self.rng
        name = ("__" if rng.random() < 0.15 else "") + self.names.func()
        params = tuple("__" + rng.choice(_NOUNS) for _ in range(rng.randint(0, 4)))
        attrs = [self.stmt("NoThrowAttr")] if rng.random() < 0.6 else []
        if params and rng.random() < 0.25:
            attrs.append(self.stmt("NonNullAttr"))
        return self.function(name, params, None, storage="extern", attrs=attrs)

    def typedef(self) -> Node:
        rng = self.rng
        name = rng.choice(_NOUNS) + "_t"
        r = rng.random()
        base = rng.choice(("int", "unsigned int", "long", "unsigned long", "char", "short"))
        if r < 0.4:
            qual, inner = base, [self.typ("BuiltinType", base)]
        elif r < 0.7:
            tag = "__" + rng.choice(_NOUNS)
            qual = "struct " + tag
            rec = self.typ(
                "RecordType", qual, {"decl": {"id": self.id(), "kind": "RecordDecl", "name": tag}}
            )
            inner = [self.typ("ElaboratedType", qual, {"inner": [rec]})]
        else:
            qual = base + " *"
            inner = [self.typ("PointerType", qual, {"inner": [self.typ("BuiltinType", base)]})]
        f: Node = {"isReferenced": True} if rng.random() < 0.3 else {}
        f.update(name=name, type={"qualType": qual}, inner=inner)
        return self.decl("TypedefDecl", f)

    def struct_decl(self) -> Node:
        fields = [
            self.decl(
                "FieldDecl",
                {
                    "name": "__" + self.rng.choice(_NOUNS),
                    "type": {"qualType": self.rng.choice(self.types)},
                },
            )
            for _ in range(self.rng.randint(1, 8))
        ]
        return self.decl(
            "RecordDecl",
            {
                "name": self.rng.choice(_NOUNS),
                "tagUsed": "struct",
                "completeDefinition": True,
                "inner": fields,
            },
        )

    def enum_decl(self) -> Node:
        consts = []
        for i in range(self.rng.randint(2, 10)):
            f: Node = {"name": self.names.var().upper(), "type": {"qualType": "int"}}
            if self.rng.random() < 0.5:
                lit = self.ex("IntegerLiteral", "int", "prvalue", {"value": str(i)})
                f["inner"] = [self.ex("ConstantExpr", "int", "prvalue", {"value": str(i)}, [lit])]
            consts.append(self.decl("EnumConstantDecl", f))
        return self.decl("EnumDecl", {"name": self.rng.choice(_NOUNS), "inner": consts})

    def cxx_header_unit(self) -> Node:
        """A ``namespace std { … }`` block of templates, classes and functions."""
        rng = self.rng
        members = []
        for _ in range(rng.randint(2, 8)):
            r = rng.random()
            if r < 0.4:
                name = "_" + self.names.cls()
                parm = self.decl(
                    "TemplateTypeParmDecl",
                    {
                        "isReferenced": True,
                        "name": "_Tp",
                        "tagUsed": "typename",
                        "depth": 0,
                        "index": 0,
                    },
                )
                rec = self.cxx_class(self._header_class(name))[0]
                members.append(self.decl("ClassTemplateDecl", {"name": name, "inner": [parm, rec]}))
            elif r < 0.65:
                parm = self.decl(
                    "TemplateTypeParmDecl",
                    {"name": "_Iter", "tagUsed": "typename", "depth": 0, "index": 0},
                )
                fn = self.function(
                    "__" + self.names.func(),
                    ("__first", "__last"),
                    self.program.body(rng.randint(1, 4), 1),
                )
                members.append(
                    self.decl("FunctionTemplateDecl", {"name": fn["name"], "inner": [parm, fn]})
                )
            elif r < 0.85:
                members.extend(self.cxx_class(self._header_class("__" + self.names.cls())))
            else:
                members.append(self.typedef())
        name = rng.choice(("std", "std", "__gnu_cxx", "__detail"))
        return self.decl("NamespaceDecl", {"name": name, "inner": members})

    def _header_class(self, name: str) -> Ir:
        rng = self.rng
        methods = tuple(
            (
                "method",
                "_M_" + self.names.func(),
                tuple("__" + self.names.var() for _ in range(rng.randint(0, 2))),
                self.program.body(rng.randint(1, 3), 1) if rng.random() < 0.4 else None,
            )
            for _ in range(rng.randint(2, 10))
        )
        fields = tuple(("_M_" + self.names.var(), None) for _ in range(rng.randint(0, 4)))
        return ("class", name, None, fields, methods)


def _split_pascal(name: str) -> list[str]:
    words: list[str] = []
    for ch in name:
        if ch.isupper() or not words:
            words.append(ch)
        else:
            words[-1] += ch
    return words


def _squeeze(root: Node, state: list[Any]) -> None:
    """Drop ``file`` and ``line`` where unchanged since the previous location, as clang does.

    ``state`` is the last written (file, line), carried across units in output order (a
    node's ``loc``, then its ``range``, then its children).
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if not node:
            continue
        loc = node.get("loc")
        if loc:
            _squeeze_loc(loc, state)
        rng_ = node.get("range")
        if rng_ and rng_.get("begin"):
            _squeeze_loc(rng_["begin"], state)
            _squeeze_loc(rng_["end"], state)
        inner = node.get("inner")
        if inner:
            stack.extend(reversed(inner))


def _squeeze_loc(loc: Node, state: list[Any]) -> None:
    if "spellingLoc" in loc:
        _squeeze_loc(loc["spellingLoc"], state)
        _squeeze_loc(loc["expansionLoc"], state)
        return
    file, line = loc["file"], loc["line"]
    if file == state[0]:
        del loc["file"]
        if line == state[1]:
            del loc["line"]
    state[0], state[1] = file, line


def _pretty(node: Node) -> bytes:
    """A top-level node as clang prints it inside the translation unit's ``inner``."""
    return b"    " + orjson.dumps(node, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n    ")


_C_HEADERS = (
    "stdio.h", "stdlib.h", "string.h", "errno.h", "unistd.h", "fcntl.h", "sys/types.h",
    "sys/stat.h", "time.h", "signal.h", "pthread.h", "stdint.h", "stddef.h", "ctype.h", "math.h",
    "assert.h", "limits.h", "locale.h", "wchar.h", "netinet/in.h", "sys/socket.h", "arpa/inet.h",
    "dirent.h", "poll.h", "sys/mman.h", "sched.h", "getopt.h", "stdarg.h",
)  # fmt: skip
_CXX_HEADERS = (
    "vector", "string", "map", "unordered_map", "memory", "algorithm", "iostream", "functional",
    "utility", "tuple", "optional", "variant", "mutex", "thread", "chrono", "sstream", "fstream",
    "atomic", "array", "set", "deque", "list", "limits", "type_traits", "iterator", "numeric",
    "bits/stl_vector.h", "bits/basic_string.h", "bits/stl_tree.h", "bits/shared_ptr_base.h",
    "bits/hashtable.h", "bits/stl_algo.h", "bits/unique_ptr.h", "bits/std_function.h",
    "bits/ios_base.h", "bits/locale_facets.h", "ext/new_allocator.h", "bits/allocator.h",
    "bits/stl_iterator.h", "bits/char_traits.h",
)  # fmt: skip
_MAIN_PLACEHOLDER = b'"@@MAIN@@"'


@dataclass(slots=True)
class _HeaderBlock:
    data: bytes  # top-level units, pretty-printed, joined; includedFrom is a placeholder
    mains: int  # placeholders to replace by the main file's name
    funcs: list[tuple[str, str, str]]


class _HeaderPool:
    """The declarations of system headers, built once per seed and reused by every TU.

    Real translation units repeat the same headers; prebuilding them keeps Clang documents of
    hundreds of KB to tens of MB cheap to write.
    """

    def __init__(self, seed: int, cxx: bool, null_children: bool) -> None:
        self.seed = seed
        self.cxx = cxx
        self.null_children = null_children
        rng = random.Random(f"clang-pool:{seed}:{cxx}")
        names = _CXX_HEADERS if cxx else _C_HEADERS
        prefix = "/usr/include/c++/11/" if cxx else "/usr/include/"
        median, lo, hi = (200 * KiB, 20 * KiB, 5 * MiB) if cxx else (24 * KiB, 4 * KiB, 400 * KiB)
        self.specs = [
            (
                prefix + h,
                int(min(max(rng.lognormvariate(math.log(median), 1.0 if cxx else 0.8), lo), hi)),
            )
            for h in names
        ]
        self.blocks: dict[int, _HeaderBlock] = {}

    def block(self, i: int) -> _HeaderBlock:
        found = self.blocks.get(i)
        if found is None:
            found = self.blocks[i] = self._build(i)
        return found

    def _build(self, i: int) -> _HeaderBlock:
        path, target = self.specs[i]
        rng = random.Random(f"clang-header:{self.seed}:{self.cxx}:{i}")
        program = _Program(rng, _Names(rng, snake=True), unicode=False)
        r = _Clang(
            rng,
            program,
            cxx=self.cxx,
            file=path,
            included_from="@@MAIN@@",
            ids=0x55D0_0000_0000 + (i + 1) * 0x1000_0000,
            null_children=self.null_children,
        )
        units: list[bytes] = []
        state: list[Any] = [None, None]
        total = 0
        while total < target:
            node = r.cxx_header_unit() if self.cxx else r.header_decl()
            r.layout(node, 0, True)
            if node["kind"] == "FunctionDecl" and any(
                c.get("kind") == "NoThrowAttr" for c in node.get("inner", ())
            ):  # the range ends in the __THROW macro, spelled in sys/cdefs.h
                node["range"]["end"] = {
                    "spellingLoc": dict(_CDEFS),
                    "expansionLoc": node["range"]["end"],
                }
            _squeeze(node, state)
            b = _pretty(node)
            units.append(b)
            total += len(b) + 2
        data = b",\n".join(units)
        return _HeaderBlock(data, data.count(_MAIN_PLACEHOLDER), r.funcs)

    def pick(self, rng: random.Random, budget: int, main_len: int) -> list[_HeaderBlock]:
        """Headers for one TU: distinct blocks whose total stays within ``budget``."""
        chosen: list[_HeaderBlock] = []
        used = 0
        smallest = min(size for _, size in self.specs)
        for i in rng.sample(range(len(self.specs)), len(self.specs)):
            if budget - used < smallest:
                break
            if used + self.specs[i][1] > budget:
                continue
            b = self.block(i)
            size = len(b.data) + b.mains * (main_len - len(_MAIN_PLACEHOLDER)) + 2
            if used + size <= budget:
                chosen.append(b)
                used += size
        return chosen


_POOLS: dict[tuple[int, bool, bool], _HeaderPool] = {}


def _pool(seed: int, cxx: bool, null_children: bool) -> _HeaderPool:
    key = (seed, cxx, null_children)
    found = _POOLS.get(key)
    if found is None:
        if len(_POOLS) >= 4:
            _POOLS.clear()
        found = _POOLS[key] = _HeaderPool(seed, cxx, null_children)
    return found


class _ClangDoc(_Doc):
    """A translation unit: builtin typedefs, then headers, then the main file's declarations."""

    bps = 6000.0
    max_size = 30

    def __init__(
        self,
        rng: random.Random,
        *,
        cxx: bool,
        path: str,
        pool: _HeaderPool,
        null_children: bool = True,
    ) -> None:
        super().__init__(rng)
        self.cxx = cxx
        self.path = path
        self.pool = pool
        names = _Names(rng, snake=True)
        # Clang spends ~700 bytes on an expression node: arguments are kept simple.
        self.program = _Program(rng, names, classes=cxx or rng.random() < 0.5, max_depth=1)
        ids = 0x5600_0000_0000 + rng.getrandbits(28) * 16
        self.r = _Clang(
            rng,
            self.program,
            cxx=cxx,
            file=path,
            included_from=None,
            ids=ids,
            null_children=null_children,
            cur=self.cur,
        )
        self.tu_id = self.r.id()
        self.head = [_pretty(n) for n in self._builtins()]
        self.state: list[Any] = [None, None]
        self.namespace = names.var() if cxx and rng.random() < 0.5 else None

    def _builtins(self) -> list[Node]:
        """The implicit typedefs every TU starts with (no location)."""
        r = self.r
        record = "CXXRecordDecl" if self.cxx else "RecordDecl"

        def typedef(name: str, qual: str, inner: Node) -> Node:
            return {
                "id": r.id(),
                "kind": "TypedefDecl",
                "loc": {},
                "range": {"begin": {}, "end": {}},
                "isImplicit": True,
                "name": name,
                "type": {"qualType": qual},
                "inner": [inner],
            }

        def record_type(tag: str) -> Node:
            return r.typ(
                "RecordType", "struct " + tag, {"decl": {"id": r.id(), "kind": record, "name": tag}}
            )

        return [
            typedef("__int128_t", "__int128", r.typ("BuiltinType", "__int128")),
            typedef("__uint128_t", "unsigned __int128", r.typ("BuiltinType", "unsigned __int128")),
            typedef(
                "__NSConstantString",
                "struct __NSConstantString_tag",
                record_type("__NSConstantString_tag"),
            ),
            typedef(
                "__builtin_ms_va_list",
                "char *",
                r.typ("PointerType", "char *", {"inner": [r.typ("BuiltinType", "char")]}),
            ),
            typedef(
                "__builtin_va_list",
                "struct __va_list_tag[1]",
                r.typ(
                    "ConstantArrayType",
                    "struct __va_list_tag[1]",
                    {"size": 1, "inner": [record_type("__va_list_tag")]},
                ),
            ),
        ]

    def add_headers(self, budget: int) -> None:
        main = orjson.dumps(self.path)
        used = 0
        for b in self.pool.pick(self.rng, budget, len(main)):
            data = b.data.replace(_MAIN_PLACEHOLDER, main) if b.mains else b.data
            self.head.append(data)
            used += len(data) + 2
            self.r.extern.extend(b.funcs)
        if budget - used > 64 * KiB:  # the pool ran out: the project's own headers
            self._project_headers(budget - used)

    def _project_headers(self, budget: int) -> None:
        rng = self.rng
        stem = self.path.rsplit("/", 1)[-1].split(".", 1)[0]
        header = f"include/{self.program.names.var()}/{stem}_{rng.randint(0, 99)}.h"
        r = _Clang(
            rng,
            self.program,
            cxx=self.cxx,
            file=header,
            included_from=self.path,
            ids=self.r.next_id + 0x100_0000,
            null_children=self.r.null_children,
        )
        state: list[Any] = [None, None]
        units: list[bytes] = []
        total = misses = 0
        while total < budget and misses < 4:
            node = r.cxx_header_unit() if self.cxx else r.header_decl()
            r.layout(node, 0, True)
            _squeeze(node, state)
            b = _pretty(node)
            if total + len(b) > budget:
                misses += 1
                continue
            units.append(b)
            total += len(b) + 2
        if units:
            self.head.append(b",\n".join(units))
        self.r.extern.extend(r.funcs)

    def overhead(self) -> int:
        return 170 + sum(len(h) + 2 for h in self.head)

    def mark(self) -> tuple[Any, ...]:
        r = self.r
        return (
            self.cur.state(),
            len(self.units),
            list(self.state),
            len(r.funcs),
            r.next_id,
            len(self.program.functions),
        )

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]
        self.state[:] = m[2]
        del self.r.funcs[m[3] :]
        self.r.next_id = m[4]
        del self.program.functions[m[5] :]

    def unit(self, size: int) -> tuple[int, int]:
        it, used = self.program.item(size)
        nodes = self.r.item(it)
        if self.namespace and nodes:
            nodes = [self.r.decl("NamespaceDecl", {"name": self.namespace, "inner": nodes})]
        added = 0
        for node in nodes:
            self.r.layout(node, 0, True)
            _squeeze(node, self.state)
            b = _pretty(node)
            self.units.append(b)
            added += len(b) + 2
        return added, used

    def finish(self) -> bytes:
        head = (
            b'{\n  "id": "' + self.tu_id.encode() + b'",\n  "kind": "TranslationUnitDecl",\n'
            b'  "loc": {},\n  "range": {\n    "begin": {},\n    "end": {}\n  },\n  "inner": [\n'
        )
        return head + b",\n".join([*self.head, *self.units]) + b"\n  ]\n}"


# --------------------------------------------------------------------------------------------
# One document


def _source_stem(kind: str, rng: random.Random, names: _Names) -> str:
    if kind == "java-sitter":
        return names.cls()
    if kind in ("js-estree", "js-babel", "ts-estree", "ts-decl"):
        return names.func() if rng.random() < 0.6 else names.var()
    return names.func() if rng.random() < 0.5 else names.var()


def _build(
    kind: Kind,
    rng: random.Random,
    target: int,
    source_path: str,
    *,
    pool_seed: int,
    null_children: bool,
) -> bytes:
    name = kind.name
    doc: _Doc
    if name == "js-estree":
        doc = _JsDoc(rng, "acorn", locations=rng.random() < 0.85, target=target)
    elif name == "js-babel":
        doc = _JsDoc(rng, "babel", target=target)
    elif name == "ts-estree":
        doc = _JsDoc(rng, "ts", tokens=rng.random() < 0.1, target=target)
    elif name == "ts-decl":
        doc = _JsDoc(rng, "ts", declarations=True, target=target)
    elif name == "py-ast":
        doc = _PyAstDoc(rng, source_path, surrogates=rng.random() < 0.03, target=target)
    elif kind.format == "clang":
        cxx = kind.language == "cpp"
        clang = _ClangDoc(
            rng,
            cxx=cxx,
            path=source_path,
            pool=_pool(pool_seed, cxx, null_children),
            null_children=null_children,
        )
        main_share = rng.uniform(0.2, 0.6)
        budget = target - clang.overhead() - max(6 * KiB, int(target * main_share))
        if budget > 0:
            clang.add_headers(budget)
        if cxx and not clang.r.extern and clang.namespace is None:
            clang.namespace = clang.program.names.var()  # no std header fitted
        doc = clang
    else:
        doc = _SitterDoc(rng, kind.language, source_path, errors=rng.random() < 0.04, target=target)
    return _grow(doc, target)


class _Templates:
    """Prebuilt documents of one kind, varied per file: the fast path for millions of files.

    Each file takes a template and gets its own source path, ``sha256`` (envelopes) and name
    for one identifier (renamed throughout), so no two files share their content.
    """

    def __init__(
        self,
        kind: Kind,
        seed: int,
        profile: str,
        max_bytes: int,
        null_children: bool,
        count: int = 32,
    ) -> None:
        rng = random.Random(f"templates:{seed}:{kind.name}:{profile}")
        self.placeholder = ("@@SRC@@" + kind.extensions[0]).encode()
        self.items: list[tuple[bytes, bytes | None, bytes | None]] = []
        for _ in range(count):
            target = _target_size(profile, kind, rng, max_bytes)
            data = _build(
                kind,
                rng,
                target,
                self.placeholder.decode(),
                pool_seed=seed,
                null_children=null_children,
            )
            i = data.find(b'"sha256":"')
            sha = data[i + 10 : i + 74] if i >= 0 else None
            data, name = self._mark(data)
            self.items.append((data, sha, name))

    @staticmethod
    def _mark(data: bytes) -> tuple[bytes, bytes | None]:
        """Rename one identifier to a marker wherever it is a value (never a key or a type)."""
        for key in (b'"name":"', b'"text":"', b'"name": "'):
            j = data.find(key, 100)
            while 0 <= j < 200_000:
                start = j + len(key)
                end = data.index(b'"', start)
                name = data[start:end]
                taken = any(
                    k + name + b'"' in data
                    for k in (b'"type":"', b'"_type":"', b'"kind": "', b'"kind":"')
                )
                if len(name) > 3 and name.replace(b"_", b"").isalnum() and not taken:
                    pattern = re.compile(b'"' + name + b'"(?!:)')
                    return pattern.sub(b'"@@ID@@"', data), name
                j = data.find(key, end)
        return data, None

    def render(self, rng: random.Random, source_path: str, index: int) -> bytes:
        data, sha, name = rng.choice(self.items)
        data = data.replace(self.placeholder, source_path.encode())
        if sha is not None:
            data = data.replace(sha, _sha(rng).encode(), 1)
        if name is not None:
            data = data.replace(b"@@ID@@", name + f"{index:x}".encode())
        return data


def document(
    kind: str,
    target_bytes: int,
    *,
    seed: int = 0,
    source_path: str | None = None,
    clang_null_children: bool = True,
) -> bytes:
    """One AST document of ``kind``, about ``target_bytes`` long (within a few percent).

    Args:
        kind: a name from :data:`KINDS`, e.g. ``"c-clang"``.
        target_bytes: the size to reach; below the kind's ``min_bytes`` the document is its
            smallest realistic form.
        seed: the same seed and arguments give the same bytes.
        source_path: the source file the document describes (envelopes and Clang record it).
        clang_null_children: write ``{}`` for the null children of ``for`` loops as clang
            does; False writes them out, for readers that cannot take real Clang output.

    Returns:
        The document's bytes, as the real tool writes them.
    """
    k = KINDS[kind]
    rng = random.Random(f"document:{kind}:{seed}:{target_bytes}")
    if source_path is None:
        snake = k.language not in ("javascript", "typescript", "java")
        stem = _source_stem(kind, rng, _Names(rng, snake=snake))
        source_path = f"src/{rng.choice(_NOUNS)}/{stem}{k.extensions[0]}"
    return _build(
        k, rng, target_bytes, source_path, pool_seed=seed, null_children=clang_null_children
    )


def deep_go_document(
    levels: int = 14_500, *, seed: int = 0, source_path: str = "internal/tables/tables.go"
) -> bytes:
    """A tree-sitter Go dump of one ``a + b + c …`` chain ``levels`` operators long.

    Generated tables concatenate thousands of operands: tree-sitter nests each operator in
    the previous one, so the tree is ``levels + 5`` nodes deep (JSON nesting twice that). The
    text is written directly, without recursion.
    """
    rng = random.Random(f"deep:{seed}:{levels}")
    c0 = 12  # `var table = ` precedes the first operand, on row 2
    ops = [
        rng.choice(("0x1f", "0x7", "42", "1024", "mask", "shift", "0b101"))
        for _ in range(levels + 1)
    ]

    def leaf(i: int, field: str) -> str:
        text = ops[i]
        kind = "identifier" if text.isalpha() else "int_literal"
        row, col = (2, c0) if i == 0 else (2 + i, 1)
        return (
            f'{{"type":"{kind}","field":"{field}","start_point":[{row},{col}],'
            f'"end_point":[{row},{col + len(text)}],"text":"{text}","children":[]}}'
        )

    last = f"[{2 + levels},{1 + len(ops[-1])}]"
    size = c0 + sum(len(t) + 3 for t in ops) + 40
    parts = [
        '{"language":"go","parser":{"name":"tree-sitter","version":"0.26.1",'
        '"grammar":"tree-sitter-go","grammar_version":"0.25.0"},'
        f'"source":{{"path":{orjson.dumps(source_path).decode()},"sha256":"{_sha(rng)}",'
        f'"size":{size}}},'
        f'"ast":{{"type":"source_file","start_point":[0,0],"end_point":[{3 + levels},0],'
        '"children":[{"type":"package_clause","start_point":[0,0],"end_point":[0,14],'
        '"children":[{"type":"package_identifier","start_point":[0,8],"end_point":[0,14],'
        '"text":"tables","children":[]}]},'
        f'{{"type":"var_declaration","start_point":[2,0],"end_point":{last},"children":['
        f'{{"type":"var_spec","start_point":[2,4],"end_point":{last},"children":['
        '{"type":"identifier","field":"name","start_point":[2,4],"end_point":[2,9],'
        '"text":"table","children":[]},'
        f'{{"type":"expression_list","field":"value","start_point":[2,{c0}],'
        f'"end_point":{last},"children":['
    ]
    for k in range(levels, 0, -1):
        field_ = ',"field":"left"' if k < levels else ""
        parts.append(
            f'{{"type":"binary_expression"{field_},"start_point":[2,{c0}],'
            f'"end_point":[{2 + k},{1 + len(ops[k])}],"children":['
        )
    parts.append(leaf(0, "left"))
    parts.extend("," + leaf(k, "right") + "]}" for k in range(1, levels + 1))
    parts.append("]}]}]}]}}")
    return "".join(parts).encode()


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


# --------------------------------------------------------------------------------------------
# A repository

_ROOTS = {
    "js-estree": ("dist/esm", "dist/cjs", "lib"),
    "js-babel": ("packages/{pkg}/src", "app/src"),
    "ts-estree": ("src", "packages/{pkg}/src"),
    "ts-decl": ("dist/types", "packages/{pkg}/dist/types"),
    "c-clang": ("native", "src/{pkg}", "lib/{pkg}"),
    "cpp-clang": ("engine", "src/{pkg}"),
    "py-ast": ("src/{pkg}", "tests"),
    "go-sitter": ("internal", "pkg", "cmd"),
    "rust-sitter": ("crates/{pkg}/src", "src"),
    "java-sitter": ("src/main/java/com/acme/{pkg}", "src/test/java/com/acme/{pkg}"),
    "py-sitter": ("lib/{pkg}", "scripts"),
}
_NON_AST = (
    "package.json",
    "tsconfig.json",
    "tsconfig.build.json",
    ".eslintrc.json",
    "index.js.map",
    "composer.json",
)


class _Tree:
    """Folders that grow like a source tree (a dozen files per folder, nested a few deep)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.dirs: dict[str, list[str]] = {}
        self.used: dict[str, set[str]] = {}
        self.taken: set[str] = set()
        self.pkgs = [rng.choice(_NOUNS) for _ in range(3)]
        # Vendored copies live under a few roots, as third-party trees do.
        self.vendors = [f"vendor/{n}-{rng.randint(1, 9)}.{rng.randint(0, 20)}" for n in self.pkgs]

    def directory(self, kind: str) -> str:
        rng = self.rng
        dirs = self.dirs.setdefault(kind, [])
        if not dirs or rng.random() < 1 / 14:
            if dirs and rng.random() < 0.6:
                parent = rng.choice(dirs)
                if parent.count("/") >= 6:
                    parent = parent.rsplit("/", 1)[0]
            else:
                parent = rng.choice(_ROOTS[kind]).format(pkg=rng.choice(self.pkgs))
            dirs.append(f"{parent}/{rng.choice(_NOUNS)}")
            return dirs[-1]
        return dirs[-1 - min(int(rng.expovariate(0.3)), len(dirs) - 1)]

    def source_path(self, kind: Kind, rng: random.Random) -> str:
        d = self.directory(kind.name)
        stem = _source_stem(
            kind.name,
            rng,
            _Names(rng, snake=kind.language not in ("javascript", "typescript", "java")),
        )
        ext = rng.choice(kind.extensions) if rng.random() < 0.2 else kind.extensions[0]
        if kind.name == "go-sitter" and rng.random() < 0.15:
            stem += "_test"
        elif kind.language == "python" and d.startswith("tests"):
            stem = "test_" + stem
        used = self.used.setdefault(d, set())
        name, i = stem + ext, 1
        while name in used:
            i += 1
            name = f"{stem}{i}{ext}"
        used.add(name)
        return f"{d}/{name}"

    def claim(self, path: str) -> bool:
        d, _, name = path.rpartition("/")
        used = self.used.setdefault(d, set())
        if name in used or path in self.taken:
            return False
        self.taken.add(path)
        used.add(name)
        return True

    def any_dir(self) -> str:
        dirs = [d for ds in self.dirs.values() for d in ds[-4:]]
        return self.rng.choice(dirs) if dirs else "src"


@dataclass(slots=True)
class CorpusStats:
    """What :func:`generate` wrote.

    Attributes:
        root: the repository root.
        files: every file written (AST files, non-AST JSON, editor temp files).
        bytes: their total size.
        ast_files: ``.ast.json`` files, valid or bad.
        by_kind: valid AST files per kind (duplicates and deep files included).
        by_format: valid AST files per snake-pipe format.
        by_language: valid AST files per language.
        bad: bad files per quarantine reason snake-pipe should give them.
        bad_variants: bad files per variant (see :data:`BAD_VARIANTS`).
        duplicates: files whose content is another file's (``.d.cts`` twins, vendored copies).
        deep: Go files whose tree is over 14,000 levels deep.
        non_ast: non-AST JSON files (``package.json``…), excluded by discovery rules.
        temp: editor temp files, excluded by discovery rules.
        seconds: time taken.
        sizes: bytes of every valid AST file, per kind.
    """

    root: str
    files: int = 0
    bytes: int = 0
    ast_files: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_format: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    bad: dict[str, int] = field(default_factory=dict)
    bad_variants: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    deep: int = 0
    non_ast: int = 0
    temp: int = 0
    seconds: float = 0.0
    sizes: "dict[str, array[int]]" = field(default_factory=dict, repr=False)

    def percentiles(self, kind: str, qs: Sequence[float] = (50, 90, 99, 100)) -> list[int]:
        """Size percentiles (bytes) of the valid files of ``kind``."""
        values = sorted(self.sizes.get(kind, ()))
        if not values:
            return [0 for _ in qs]
        return [values[min(len(values) - 1, int(len(values) * q / 100))] for q in qs]

    def summary(self) -> str:
        """One line: files, MB, time, and files by kind."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        extra = [f"bad {sum(self.bad.values())}"] if self.bad else []
        extra += [f"dup {self.duplicates}", f"deep {self.deep}"]
        if self.non_ast or self.temp:
            extra.append(f"non-ast {self.non_ast}, temp {self.temp}")
        rate = self.files / self.seconds if self.seconds else 0.0
        return (
            f"{os.path.basename(self.root)}: {self.files} files, {self.bytes / MiB:.1f} MB, "
            f"{self.seconds:.1f} s ({rate:.0f} files/s) | {kinds} | {', '.join(extra)}"
        )

    def _count(self, kind: Kind, size: int) -> None:
        self.by_kind[kind.name] = self.by_kind.get(kind.name, 0) + 1
        self.by_format[kind.format] = self.by_format.get(kind.format, 0) + 1
        self.by_language[kind.language] = self.by_language.get(kind.language, 0) + 1
        self.sizes.setdefault(kind.name, array("Q")).append(size)


def _select(formats: Iterable[str] | None) -> list[Kind]:
    if formats is None:
        return list(KINDS.values())
    out: list[Kind] = []
    for f in formats:
        matched = [k for k in KINDS.values() if f in (k.name, k.format, k.language)]
        if not matched:
            raise ValueError(
                f"unknown format {f!r}: use a kind ({', '.join(KINDS)}), a "
                "snake-pipe format or a language"
            )
        out.extend(k for k in matched if k not in out)
    return out


def _deep_count(profile: str, files: int, deep_share: float | None) -> int:
    if deep_share is not None:
        return round(files * deep_share)
    if profile == "realistic":
        return max(1, round(files * 0.0005)) if files >= 200 else 0
    if profile == "large":
        return round(files * 0.01)
    return 0


class _Writer:
    """Writes files under a root, creating folders once."""

    def __init__(self, root: str, stats: CorpusStats) -> None:
        self.root = root
        self.stats = stats
        self.made: set[str] = set()

    def write(self, rel: str, data: bytes) -> None:
        path = os.path.join(self.root, rel)
        folder = os.path.dirname(path)
        if folder not in self.made:
            os.makedirs(folder, exist_ok=True)
            self.made.add(folder)
        with open(path, "wb") as f:
            f.write(data)
        self.stats.files += 1
        self.stats.bytes += len(data)


def generate(
    root: str | os.PathLike[str],
    *,
    files: int,
    seed: int = 0,
    profile: str = "realistic",
    formats: Iterable[str] | None = None,
    bad_share: float = 0.0,
    duplicate_share: float = 0.05,
    max_file_mb: float = 50,
    noise_share: float | None = None,
    deep_share: float | None = None,
    clang_null_children: bool = True,
    templates: bool | None = None,
) -> CorpusStats:
    """Write a repository of ``files`` AST JSON files under ``root``.

    Args:
        root: the repository root (created if missing).
        files: ``.ast.json`` files to write (valid, duplicated, deep and bad ones).
        seed: everything derives from it; the same arguments write byte-identical files.
        profile: ``realistic``, ``small`` or ``large`` (see :data:`PROFILES`).
        formats: kinds to write, by kind name, snake-pipe format or language (``"clang"``,
            ``"go"``, ``"ts-decl"``…); None writes every kind in the realistic mix.
        bad_share: share of ``files`` that are bad, cycling through :data:`BAD_VARIANTS` so
            every reason appears once there are ten bad files.
        duplicate_share: share of ``files`` that repeat an earlier file's content under
            another path (``.d.ts``→``.d.cts`` twins, ``vendor/`` copies).
        max_file_mb: the largest document; the realistic tail is cut here.
        noise_share: non-AST JSON and editor temp files to add, as a share of ``files`` (not
            counted in ``files``); None means the same as ``bad_share``.
        deep_share: share of Go files over 14,000 levels deep; None: the profile's default
            (one in 2,000 realistic files, at least one from 200 files).
        clang_null_children: write ``{}`` for the null children of loops, as clang does.
        templates: vary a pool of prebuilt documents per kind instead of generating each file
            (new path, ``sha256`` and one renamed identifier per file): ~10x faster, less
            varied. None: only for the ``small`` profile, made for millions of files.

    Returns:
        What was written (see :class:`CorpusStats`).
    """
    if files < 0:
        raise ValueError("files must be >= 0")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    for name, share in (("bad_share", bad_share), ("duplicate_share", duplicate_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name} must be between 0 and 1")
    kinds = _select(formats)
    started = time.perf_counter()
    rootdir = os.fspath(root)
    os.makedirs(rootdir, exist_ok=True)
    stats = CorpusStats(root=rootdir)
    writer = _Writer(rootdir, stats)
    rng = random.Random(f"corpus:{seed}")
    tree = _Tree(rng)
    max_bytes = int(max_file_mb * MiB)
    go = KINDS["go-sitter"]
    n_deep = _deep_count(profile, files, deep_share) if go in kinds else 0
    roles = _roles(rng, files, round(files * bad_share), round(files * duplicate_share), n_deep)
    weights = [k.weight for k in kinds]
    recent: list[tuple[Kind, str, bytes]] = []
    pools: dict[str, _Templates] | None = None
    if templates or (templates is None and profile == "small"):
        pools = {}
    for i in range(files):
        frng = random.Random(f"{seed}:{i}")
        role = roles.get(i, "")
        if role == "dup" and recent:
            _write_duplicate(frng, tree, writer, stats, recent)
            continue
        if role.startswith("bad:"):
            variant = role[4:]
            kind = frng.choices(kinds, weights)[0]
            writer.write(
                tree.source_path(kind, frng) + ".ast.json",
                bad_document(variant, seed=seed * 7919 + i),
            )
            reason = BAD_VARIANTS[variant]
            stats.bad[reason] = stats.bad.get(reason, 0) + 1
            stats.bad_variants[variant] = stats.bad_variants.get(variant, 0) + 1
            stats.ast_files += 1
            continue
        if role == "deep":
            kind = go
            src = tree.source_path(go, frng)
            data = deep_go_document(
                frng.randint(14_100, 16_000), seed=seed * 7919 + i, source_path=src
            )
            stats.deep += 1
        else:
            kind = frng.choices(kinds, weights)[0]
            src = tree.source_path(kind, frng)
            if pools is not None:
                pool = pools.get(kind.name)
                if pool is None:
                    pool = pools[kind.name] = _Templates(
                        kind, seed, profile, max_bytes, clang_null_children
                    )
                data = pool.render(frng, src, i)
            else:
                target = _target_size(profile, kind, frng, max_bytes)
                data = _build(
                    kind, frng, target, src, pool_seed=seed, null_children=clang_null_children
                )
        writer.write(src + ".ast.json", data)
        stats.ast_files += 1
        stats._count(kind, len(data))
        if len(data) <= MiB:
            recent.append((kind, src, data))
            if len(recent) > 32:
                del recent[0]
    n_noise = round(files * (bad_share if noise_share is None else noise_share))
    for j in range(n_noise):
        _write_noise(random.Random(f"{seed}:noise:{j}"), tree, writer, stats, recent)
    stats.seconds = time.perf_counter() - started
    return stats


def _roles(rng: random.Random, files: int, bad: int, dup: int, deep: int) -> dict[int, str]:
    """Which file indexes are bad (cycling through the variants), copies, or deep."""
    variants = list(BAD_VARIANTS)
    roles: dict[int, str] = {}
    for j, i in enumerate(rng.sample(range(files), min(files, bad + dup + deep))):
        if j < bad:
            roles[i] = "bad:" + variants[j % len(variants)]
        else:
            roles[i] = "dup" if j < bad + dup else "deep"
    return roles


def _write_duplicate(
    rng: random.Random,
    tree: _Tree,
    writer: _Writer,
    stats: CorpusStats,
    recent: list[tuple[Kind, str, bytes]],
) -> None:
    decls = [r for r in recent if r[1].endswith(".d.ts")]
    kind, src, data = rng.choice(decls) if decls and rng.random() < 0.5 else rng.choice(recent)
    path = src[: -len(".d.ts")] + ".d.cts" if src.endswith(".d.ts") else ""
    vendors = rng.sample(tree.vendors, len(tree.vendors))
    while not path or not tree.claim(path):
        vendor = vendors.pop() if vendors else f"vendor/{rng.choice(_NOUNS)}-{rng.randint(10, 99)}"
        path = f"{vendor}/{src}"
    writer.write(path + ".ast.json", data)
    stats.ast_files += 1
    stats.duplicates += 1
    stats._count(kind, len(data))


def _write_noise(
    rng: random.Random,
    tree: _Tree,
    writer: _Writer,
    stats: CorpusStats,
    recent: list[tuple[Kind, str, bytes]],
) -> None:
    folder = tree.any_dir()
    if rng.random() < 0.5:
        name = rng.choice(_NON_AST)
        data = orjson.dumps(
            {
                "name": f"@acme/{rng.choice(_NOUNS)}",
                "version": f"1.{rng.randint(0, 30)}.0",
                "private": True,
                "scripts": {"build": "tsc -b", "test": "vitest run"},
                "dependencies": {"rxjs": "^7.8.1", "tslib": "^2.6.0"},
            },
            option=orjson.OPT_INDENT_2,
        )
        if tree.claim(f"{folder}/{name}"):
            writer.write(f"{folder}/{name}", data)
            stats.non_ast += 1
        return
    stem = f"{rng.choice(_NOUNS)}.py.ast.json"
    base = recent[-1][2][:2000] if recent else b"{}"
    name, data = rng.choice(
        (
            (f".#{stem}", b"dev@workstation.4242:1700000000"),  # emacs lock
            (f"{stem}~", base),  # backup copy
            (f".{stem}.swp", b"b0VIM 9.0\x00" + bytes(rng.randbytes(64))),
            (f"{stem}.tmp", base[: len(base) // 2]),  # a write in progress
            ("4913", b""),  # vim's probe file
        )
    )
    if tree.claim(f"{folder}/{name}"):
        writer.write(f"{folder}/{name}", data)
        stats.temp += 1


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.corpus OUT_DIR --files N [--repos K] …``: write K repositories."""
    p = argparse.ArgumentParser(
        prog="python -m bench.corpus",
        description=(
            "Write repositories of realistic AST JSON (OUT_DIR/repo-000, …) and print one line "
            "per repository."
        ),
    )
    p.add_argument("out_dir", type=Path)
    p.add_argument("--files", type=int, required=True, help="AST files per repository")
    p.add_argument("--repos", type=int, default=1, help="repositories to write (default 1)")
    p.add_argument("--seed", type=int, default=0, help="repository k uses seed*1000+k")
    p.add_argument("--profile", choices=PROFILES, default="realistic")
    p.add_argument("--formats", help="comma-separated kinds, formats or languages")
    p.add_argument("--bad-share", type=float, default=0.0)
    p.add_argument("--duplicate-share", type=float, default=0.05)
    p.add_argument(
        "--noise-share",
        type=float,
        default=None,
        help="non-AST JSON and editor temp files (default: the bad share)",
    )
    p.add_argument("--max-file-mb", type=float, default=50)
    p.add_argument(
        "--clang-null-children",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write {} for the null children of loops, as clang does (default: yes)",
    )
    p.add_argument("--sizes", action="store_true", help="print size percentiles per kind")
    args = p.parse_args(argv)
    formats = args.formats.split(",") if args.formats else None
    for k in range(args.repos):
        stats = generate(
            args.out_dir / f"repo-{k:03d}",
            files=args.files,
            seed=args.seed * 1000 + k,
            profile=args.profile,
            formats=formats,
            bad_share=args.bad_share,
            duplicate_share=args.duplicate_share,
            max_file_mb=args.max_file_mb,
            noise_share=args.noise_share,
            clang_null_children=args.clang_null_children,
        )
        print(stats.summary(), flush=True)
        if args.sizes:
            for kind in sorted(stats.sizes):
                p50, p90, p99, top = stats.percentiles(kind)
                print(
                    f"  {kind:12} n={len(stats.sizes[kind]):6}  p50 {p50 / KiB:8.1f} KB  "
                    f"p90 {p90 / KiB:8.1f} KB  p99 {p99 / KiB:8.1f} KB  "
                    f"max {top / KiB:9.1f} KB"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
