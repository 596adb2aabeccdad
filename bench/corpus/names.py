"""Identifiers and source file stems in a language's style, drawn from a small vocabulary."""

import random
from collections.abc import Sequence

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


def _source_stem(kind: str, rng: random.Random, names: _Names) -> str:
    if kind == "java-sitter":
        return names.cls()
    if kind in ("js-estree", "js-babel", "ts-estree", "ts-decl"):
        return names.func() if rng.random() < 0.6 else names.var()
    return names.func() if rng.random() < 0.5 else names.var()
