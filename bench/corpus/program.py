"""The language-neutral program: items, statements and expressions as tuples.

Every format renders these programs, so that function, class, import and branch counts mean
something in each. The forms::

    items:  ("import", module, names) ("import_group", modules) ("func", name, params, body,
            exported, is_async) ("class", name, base, fields, methods) ("var", name, expr,
            exported) ("interface", name, members, methods) ("alias", name, options)
            ("declare", name, params)
    stmts:  ("let", name, expr) ("set", target, expr) ("expr", expr) ("if", cond, body, orelse)
            ("for", var, iterable, body) ("while", cond, body) ("switch", subject, cases,
            default) ("try", body, err, handler) ("return", expr | None)
    exprs:  ("name", id) ("this",) ("attr", obj, name) ("call", callee, args) ("new", cls, args)
            ("bin" | "cmp" | "logic", op, left, right) ("not", e) ("str", s) ("num", n)
            ("bool", b) ("null",) ("lambda", params, body) ("cond", test, a, b) ("list", elems)
"""

import random
from collections.abc import Sequence
from typing import Any

from .names import _ASCII_PHRASES, _NOUNS, _PHRASES, _Names

Ir = tuple[Any, ...]

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
