"""Clang's JSON nodes, C and C++, for declarations and the neutral program."""

import random
from collections.abc import Sequence

from .clang_layout import _ClangLayout
from .grow import Node, _Cursor
from .program import Ir, _Program

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


class _Clang(_ClangLayout):
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


def _split_pascal(name: str) -> list[str]:
    words: list[str] = []
    for ch in name:
        if ch.isupper() or not words:
            words.append(ch)
        else:
            words[-1] += ch
    return words
