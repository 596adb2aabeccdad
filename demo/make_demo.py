"""Writes the bundled demo repositories (``demo/repos``) that the quick start ingests.

They are generated, not copied from real projects, by the project's own corpus generator
(``bench.corpus``): the shapes real parsers write, small sizes, one bad file per quarantine
reason so the quarantine has something to show, and non-AST JSON that discovery excludes. The
output is deterministic and committed; run ``python -m demo.make_demo`` to rewrite it.
"""

import shutil
import sys
from pathlib import Path

from bench.corpus import bad_document, generate

__all__ = ["DEMO_REPOS", "main"]

ROOT = Path(__file__).resolve().parent / "repos"
# name → (kinds, AST files, seed)
DEMO_REPOS: dict[str, tuple[str, int, int]] = {
    "webapp": ("js-estree,js-babel,ts-estree,ts-decl", 36, 11),
    "pylib": ("py-ast", 24, 12),
    "native": ("c-clang,cpp-clang", 6, 13),
    "services": ("go-sitter,rust-sitter,java-sitter,py-sitter", 30, 14),
}
# Bad files, one quarantine reason after another: (repository, path, bench.corpus variant).
BAD_FILES = [
    ("webapp", "src/legacy/broken.js.ast.json", "truncated"),  # invalid_json
    ("webapp", "src/types/wide.d.ts.ast.json", "utf16"),  # encoding
    ("pylib", "pkg/empty.py.ast.json", "empty"),  # empty
    ("pylib", "pkg/latin1.py.ast.json", "latin1"),  # encoding
    ("pylib", "pkg/no_ast.py.ast.json", "no-ast"),  # schema
    ("services", "cmd/generated/huge_expr.go.ast.json", "hostile-deep"),  # too_deep
    ("services", "internal/list.go.ast.json", "array"),  # not_object
    ("services", "src/other_tool.rs.ast.json", "unknown"),  # unknown_format
    ("services", "java/Untyped.java.ast.json", "untyped-node"),  # schema
]


def main() -> int:
    shutil.rmtree(ROOT, ignore_errors=True)
    for name, (kinds, files, seed) in DEMO_REPOS.items():
        stats = generate(
            ROOT / name,
            files=files,
            seed=seed,
            profile="small",
            formats=kinds.split(","),
            noise_share=0.05,
            deep_share=0.0,
            templates=False,
        )
        print(stats.summary(), file=sys.stderr)
    for repo, path, variant in BAD_FILES:
        target = ROOT / repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bad_document(variant))
    print(f"{len(BAD_FILES)} bad files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
