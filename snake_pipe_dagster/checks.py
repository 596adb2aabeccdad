"""Checks that the store can be trusted, per repository, after every ingest.

All three sit on ``ast_metadata``, the asset whose page a user opens (its *Checks* tab). Their
names leave the asset out, because Dagster's step key prefixes it (``ast_metadata_`` +
name), and the sidebar and run timeline show the name alone:

- ``quarantine_rate_check``: the share of live files in quarantine stays
  under ``quarantine_rate_threshold`` (a warning: bad files are data, but a jump means a
  parser or format changed upstream);
- ``one_verdict_per_file_check``: every manifest row has exactly one verdict, with what that
  verdict implies (a quarantine reason, an exclusion rule, a metadata row);
- ``hashes_match_disk_check``: for a random sample of extracted files whose size and
  modification time are unchanged on disk, the stored hash is the hash of the bytes (the
  store's ``content_hash``: BLAKE3, or sha256 in a store that began with it); a
  mismatch would be invisible to incremental runs, which trust size and mtime. And no refusal
  of the mass-delete guard stands: while one does (the root missing, unreadable, empty, on
  another mount, or most files gone with nothing new beside them), the store keeps files the
  disk may no longer have. A refused run fails before its checks run, so
  ``ast_change_sensor`` launches this check alone when it learns of a refusal.
"""

import os
import stat
from pathlib import Path
from typing import Any

import dagster as dg

from snake_pipe_core import Store
from snake_pipe_core.analysis.beneath import Refused, forget_folder, open_beneath
from snake_pipe_core.guard import GuardState, Refusal
from snake_pipe_core.hashes import content_hasher

from .assets import AST_METADATA
from .errors import ENGINE_RETRY_POLICY, engine_errors
from .partitions import repo_partitions
from .reporting import STATES, markdown_table
from .resources import SnakePipeResource
from .standing import quarantine_pointer

__all__ = [
    "CHECKED_ASSET",
    "HASH_SAMPLE_SIZE",
    "MATCHES_DISK_CHECK",
    "ast_checks",
    "hashes_match_disk_check",
    "one_verdict_per_file_check",
    "quarantine_rate_check",
]

HASH_SAMPLE_SIZE = 50
_READ_CHUNK = 1 << 20


CHECKED_ASSET = AST_METADATA


def _store(snake_pipe: SnakePipeResource, repo: str) -> tuple[Store, float]:
    """The store and the threshold; a partition that is no configured repository and was
    never ingested fails here, with the engine's message."""
    with engine_errors(repo=repo):
        settings = snake_pipe.settings()
        store = snake_pipe.store(settings)
        if repo not in settings.repositories() and not store.query(
            "SELECT 1 FROM repos WHERE repo = ?", [repo]
        ):
            snake_pipe.repository_root(settings, repo)  # raises, saying why
        return store, settings.quarantine_rate_threshold


def _query(store: Store, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with engine_errors():
        return store.query(sql, params)


@dg.asset_check(
    asset=CHECKED_ASSET,
    name="quarantine_rate_check",
    partitions_def=repo_partitions,
    retry_policy=ENGINE_RETRY_POLICY,
    description="The share of the repository's live files in quarantine is under the "
    "configured quarantine_rate_threshold.",
)
def quarantine_rate_check(
    context: dg.AssetCheckExecutionContext, snake_pipe: SnakePipeResource
) -> dg.AssetCheckResult:
    """Quarantined / (extracted + quarantined) for the partition's repository."""
    store, threshold = _store(snake_pipe, context.partition_key)
    rows = _query(
        store,
        "SELECT state, coalesce(reason, ''), count(*) FROM manifest WHERE repo = ? "
        "AND state IN ('extracted', 'quarantined') GROUP BY ALL",
        [context.partition_key],
    )
    extracted = sum(n for state, _, n in rows if state == "extracted")
    reasons = sorted(((r, n) for s, r, n in rows if s == "quarantined"), key=lambda x: -x[1])
    quarantined = sum(n for _, n in reasons)
    live = extracted + quarantined
    rate = quarantined / live if live else 0.0
    return dg.AssetCheckResult(
        passed=rate <= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{quarantined} of {live} files ({rate:.1%}) are in quarantine; "
        f"the threshold is {threshold:.1%}",
        # Numbers that plot well across partitions (Dagster draws every partition's results
        # on one time axis): rates; the repository's counts are in one JSON entry.
        metadata={
            "quarantine_rate": round(rate, 4),
            "threshold": threshold,
            "files": dg.MetadataValue.json({"quarantined": quarantined, "live": live}),
            "top_reasons": dg.MetadataValue.md(
                markdown_table(("reason", "files"), [(f"`{r}`", n) for r, n in reasons[:10]])
                + "\n\n"
                + quarantine_pointer(context.partition_key)
                if reasons
                else "No file is in quarantine."
            ),
        },
    )


# Each count is a kind of row that breaks "one file, one verdict".
_VERDICT_SQL = f"""
SELECT
  count(*) FILTER (WHERE state IS NULL OR state NOT IN ({", ".join(f"'{s}'" for s in STATES)}))
     AS unknown_state,
  count(*) FILTER (WHERE state = 'quarantined' AND (reason IS NULL OR attempts IS NULL))
     AS quarantined_without_reason,
  count(*) FILTER (WHERE state = 'extracted' AND NOT EXISTS
     (SELECT 1 FROM ast_metadata a WHERE a.content_hash = m.content_hash))
     AS extracted_without_metadata,
  count(*) FILTER (WHERE state = 'excluded' AND reason IS NULL) AS excluded_without_rule,
  count(*) AS manifest_rows
FROM manifest m WHERE repo = $1
"""


@dg.asset_check(
    asset=CHECKED_ASSET,
    name="one_verdict_per_file_check",
    partitions_def=repo_partitions,
    retry_policy=ENGINE_RETRY_POLICY,
    description="Every manifest row has one verdict (extracted, quarantined, excluded or "
    "deleted) and what it implies: a reason, a rule, or a metadata row.",
)
def one_verdict_per_file_check(
    context: dg.AssetCheckExecutionContext, snake_pipe: SnakePipeResource
) -> dg.AssetCheckResult:
    """Counts the manifest rows of the partition's repository that break the invariants."""
    store, _ = _store(snake_pipe, context.partition_key)
    with_names = _query_dict(store, _VERDICT_SQL, [context.partition_key])
    rows = with_names.pop("manifest_rows")
    problems = {k: v for k, v in with_names.items() if v}
    return dg.AssetCheckResult(
        passed=not problems,
        description="every file has one verdict"
        if not problems
        else "rows without a consistent verdict: "
        + ", ".join(f"{k}={v}" for k, v in problems.items()),
        # The problem counts are 0 on every healthy partition, so their plots stay flat;
        # the row count differs between repositories and is not plotted.
        metadata={**with_names, "manifest_rows": dg.MetadataValue.text(str(rows))},
    )


def _query_dict(store: Store, sql: str, params: list[Any]) -> dict[str, int]:
    with engine_errors():
        row = store.query_dicts(sql, params)[0]
    return {k: int(v) for k, v in row.items()}


@dg.asset_check(
    asset=CHECKED_ASSET,
    name="hashes_match_disk_check",
    partitions_def=repo_partitions,
    retry_policy=ENGINE_RETRY_POLICY,
    description=f"For a random sample of up to {HASH_SAMPLE_SIZE} extracted files whose size "
    "and modification time are unchanged on disk, the stored content hash (BLAKE3, or sha256 "
    "in a store that began with it) matches the file's bytes; "
    "and no refusal of the mass-delete guard stands (an unmounted or vanished root: the store "
    "keeps what the disk may no longer have until it is mounted again or the deletions are "
    "confirmed).",
)
def hashes_match_disk_check(
    context: dg.AssetCheckExecutionContext, snake_pipe: SnakePipeResource
) -> dg.AssetCheckResult:
    """Re-hashes a sample of files. Files changed or gone since the last run are *pending*
    (the next incremental run will see them), not errors."""
    repo = context.partition_key
    store, _ = _store(snake_pipe, repo)
    refusal = GuardState(store.path).refusal(repo)
    if refusal is not None:
        return _refused(refusal)
    root_rows = _query(store, "SELECT root FROM repos WHERE repo = ?", [repo])
    if not root_rows:
        return dg.AssetCheckResult(passed=False, description=f"{repo!r} was never ingested")
    root = Path(root_rows[0][0])
    sample = _query(
        store,
        "SELECT path, size_bytes, mtime_ns, content_hash FROM manifest WHERE repo = ? "
        "AND state = 'extracted' ORDER BY random() LIMIT ?",
        [repo, HASH_SAMPLE_SIZE],
    )
    with engine_errors():
        algorithm = store.content_hash()
    matched, pending, mismatched = 0, 0, []
    real_root = os.path.realpath(root)
    for path, size, mtime_ns, content_hash in sample:
        outcome = _compare(real_root, path, size, mtime_ns, content_hash, algorithm)
        if outcome == "matched":
            matched += 1
        elif outcome == "pending":
            pending += 1
        else:
            mismatched.append(path)
    return dg.AssetCheckResult(
        passed=not mismatched,
        description=f"{matched} of {len(sample)} sampled files match their stored hash; "
        f"{pending} changed since the last run; {len(mismatched)} differ with the same "
        "size and modification time",
        metadata={
            "match_rate": round(matched / (matched + len(mismatched)), 4)
            if matched + len(mismatched)
            else 1.0,
            "mismatched": len(mismatched),
            "sample": dg.MetadataValue.json(
                {"sampled": len(sample), "matched": matched, "pending": pending}
            ),
            "mismatched_paths": dg.MetadataValue.json(mismatched[:20]),
            "root": dg.MetadataValue.path(str(root)),
            "hash": algorithm,
        },
    )


def _refused(refusal: Refusal) -> dg.AssetCheckResult:
    retry = refusal.retry_at
    return dg.AssetCheckResult(
        passed=False,
        description=f"the mass-delete guard refused this repository's changes "
        f"{refusal.refusals} time(s) in a row ({refusal.kind}): {refusal.detail}. Nothing was "
        "marked deleted; the next try comes by itself (ast_change_sensor), or confirm with "
        "`snake-pipe watch --confirm-deletions REPO`",
        metadata={
            "refusal": refusal.kind,
            "detail": refusal.detail,
            "refusals": refusal.refusals,
            "refused_since": dg.MetadataValue.timestamp(refusal.since),
            "next_try": dg.MetadataValue.timestamp(retry) if retry is not None else "none planned",
            "confirmed": refusal.confirmed_at is not None,
        },
    )


def _compare(
    root: str, path: str, size: int, mtime_ns: int, content_hash: str, algorithm: str
) -> str:
    """``matched``, ``pending`` (changed or gone since the last run) or ``mismatched``. Read
    as the ingest reads: beneath the root, never through a symlink out of it, never blocking
    on something that is not a regular file."""
    try:
        fd = open_beneath(root, path)
    except (Refused, OSError):
        return "pending"
    try:
        with open(fd, "rb", closefd=False) as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
                return "pending"
            digest = content_hasher(algorithm)()
            while chunk := f.read(_READ_CHUNK):
                digest.update(chunk)
    except OSError:
        return "pending"
    finally:
        os.close(fd)
        forget_folder()
    return "matched" if digest.hexdigest() == content_hash else "mismatched"


MATCHES_DISK_CHECK = "hashes_match_disk_check"

ast_checks = [quarantine_rate_check, one_verdict_per_file_check, hashes_match_disk_check]
