"""Language names: from an envelope's declaration or from the source file name."""

__all__ = ["language_from_name", "normalise_language"]

_EXTENSIONS = {
    "py": "python", "pyi": "python", "pyw": "python",
    "js": "javascript", "mjs": "javascript", "cjs": "javascript", "jsx": "javascript",
    "ts": "typescript", "mts": "typescript", "cts": "typescript", "tsx": "typescript",
    "c": "c", "h": "c",
    "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "c++": "cpp", "hpp": "cpp", "hh": "cpp",
    "hxx": "cpp", "h++": "cpp", "ipp": "cpp", "tpp": "cpp", "inl": "cpp",
    "m": "objective-c", "mm": "objective-cpp",
    "go": "go", "rs": "rust", "java": "java", "kt": "kotlin", "kts": "kotlin",
    "scala": "scala", "rb": "ruby", "php": "php", "cs": "csharp", "swift": "swift",
    "lua": "lua", "sh": "bash", "bash": "bash", "hs": "haskell", "ml": "ocaml",
    "ex": "elixir", "exs": "elixir", "erl": "erlang", "dart": "dart", "zig": "zig",
    "sql": "sql", "r": "r", "jl": "julia", "vue": "vue", "svelte": "svelte",
}  # fmt: skip

_ALIASES = {
    "py": "python", "python3": "python", "js": "javascript", "node": "javascript",
    "ecmascript": "javascript", "ts": "typescript", "c++": "cpp", "cxx": "cpp",
    "golang": "go", "rs": "rust", "c#": "csharp", "cs": "csharp", "rb": "ruby",
    "tsx": "typescript", "jsx": "javascript",
}  # fmt: skip

# Suffixes that AST writers append to the source file name.
_AST_SUFFIXES = (".ast.json", ".json", ".ast")


def normalise_language(name: str | None) -> str | None:
    """Lower-case a declared language and map common aliases (``c++`` → ``cpp``)."""
    if not name or not isinstance(name, str):
        return None
    low = name.strip().lower()
    return _ALIASES.get(low, low) or None


def language_from_name(ast_file_name: str) -> str | None:
    """The language of the source file named inside an AST file name.

    ``util.py.ast.json`` → python, ``y.ts.json`` → typescript, ``x.h.c.ast.json`` → c.
    """
    name = ast_file_name.rsplit("/", 1)[-1].lower()
    for suffix in _AST_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if "." not in name:
        return None
    return _EXTENSIONS.get(name.rsplit(".", 1)[1])
