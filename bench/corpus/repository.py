"""A repository: :func:`generate` writes AST files, copies, deep and bad files, and noise."""

import os
import random
import time
from collections.abc import Iterable

import orjson

from .bad_files import BAD_VARIANTS, bad_document
from .document import _build, deep_go_document
from .kinds import KINDS, PROFILES, Kind, MiB, _target_size
from .names import _NOUNS
from .source_tree import _Tree
from .stats import CorpusStats
from .templates import _Templates

__all__ = ["generate"]

_NON_AST = (
    "package.json",
    "tsconfig.json",
    "tsconfig.build.json",
    ".eslintrc.json",
    "index.js.map",
    "composer.json",
)


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
