"""What headers declare, and the pool of prebuilt header blocks translation units reuse.

Most of a real translation unit is its headers, and units repeat the same ones: a pool per seed
keeps Clang documents of hundreds of KB to tens of MB cheap to write.
"""

import math
import random
from dataclasses import dataclass
from typing import Any

from .clang_layout import _pretty, _squeeze
from .clang_nodes import _Clang
from .grow import Node
from .kinds import KiB, MiB
from .names import _NOUNS, _Names
from .program import Ir, _Program

_CDEFS = {
    "offset": 14692,
    "file": "/usr/include/x86_64-linux-gnu/sys/cdefs.h",
    "line": 386,
    "col": 76,
    "tokLen": 1,
    "includedFrom": {"file": "/usr/include/features.h"},
}


class _HeaderClang(_Clang):
    """Renders the declarations of system and project headers."""

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
        r = _HeaderClang(
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
