"""Paths that mirror source trees: folders per kind, a dozen files each, vendored copies."""

import random

from .kinds import Kind
from .names import _NOUNS, _Names, _source_stem

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
