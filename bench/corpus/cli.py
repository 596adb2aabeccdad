"""The command line: ``python -m bench.corpus OUT_DIR --files N [--repos K] …``."""

import argparse
from collections.abc import Sequence
from pathlib import Path

from .kinds import PROFILES, KiB
from .repository import generate

__all__ = ["main"]


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
