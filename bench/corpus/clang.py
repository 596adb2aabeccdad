"""``clang -Xclang -ast-dump=json`` translation units, C and C++.

Implicit builtin typedefs first, then header declarations (from the pool), then the main file's.
"""

import random
from typing import Any

import orjson

from .clang_headers import _MAIN_PLACEHOLDER, _HeaderClang, _HeaderPool
from .clang_layout import _pretty, _squeeze
from .clang_nodes import _Clang
from .grow import Node, _Doc
from .kinds import KiB
from .names import _Names
from .program import _Program


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
        r = _HeaderClang(
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
