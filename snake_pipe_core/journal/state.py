"""The consumer's cursor: where it stands in the journal, as a short JSON string.

It never lists files. It holds the journal's id, an ``epoch`` (new with every fresh cursor, so
the run keys of a reset cursor never collide with earlier ones), the *mark* — every record at
or below it is applied, so the journal may be compacted up to it — and, for the few
repositories with something beyond the mark, a :class:`RepoState`: how far its own records are
applied, the run in flight, the failed tries in a row and when to try again, and whether it
owes a whole-repository diff. Bounded by the number of repositories, whatever the backlog.
The Dagster sensor keeps it in Dagster's cursor storage; ``snake-pipe watch --ingest`` in the
journal itself.
"""

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["ConsumerState", "RepoState", "new_epoch", "resume"]

_VERSION = 2


def new_epoch() -> str:
    return secrets.token_hex(3)


@dataclass(frozen=True, slots=True)
class RepoState:
    """One repository beyond the mark (times are unix seconds)."""

    applied: int = 0  # every record of the repository at or below this is applied
    key: str | None = None  # the run in flight (its run key), if any
    upto: int = 0  # the last record the run in flight covers
    whole: bool = False  # the run in flight diffs the whole repository
    since: float = 0.0  # when the run in flight was requested
    attempt: int = 0  # tries that failed (or were refused) in a row
    retry_at: float | None = None  # the next try, not before
    owe: bool = False  # owes a whole-repository diff (records were lost)
    refused: bool = False  # the last try was refused by the mass-delete guard
    error: str = ""  # what the last failed try said, shortened

    @property
    def in_flight(self) -> bool:
        return self.key is not None

    def is_idle_at(self, mark: int) -> bool:
        """Nothing to remember beyond the mark."""
        return (
            self.applied <= mark
            and self.key is None
            and not self.owe
            and self.attempt == 0
            and not self.refused
        )


_FIELDS: dict[str, str] = {  # short names in the JSON
    "applied": "a",
    "key": "k",
    "upto": "u",
    "whole": "w",
    "since": "t",
    "attempt": "n",
    "retry_at": "x",
    "owe": "o",
    "refused": "z",
    "error": "f",
}
_DEFAULTS = RepoState()


@dataclass(frozen=True, slots=True)
class ConsumerState:
    """The whole cursor."""

    journal_id: str
    mark: int = 0
    epoch: str = ""
    repos: Mapping[str, RepoState] = field(default_factory=dict)
    # When a supervisor last started a watcher, and how many times in a row without a beat.
    spawned_at: float | None = None
    spawns: int = 0

    def repo(self, name: str) -> RepoState:
        """The state of a repository (one the cursor does not name is applied to the mark)."""
        return self.repos.get(name) or RepoState(applied=self.mark)

    def dumps(self) -> str:
        repos = {}
        for name, r in sorted(self.repos.items()):
            repos[name] = {
                short: getattr(r, attr)
                for attr, short in _FIELDS.items()
                if getattr(r, attr) != getattr(_DEFAULTS, attr)
            }
        data: dict[str, Any] = {"v": _VERSION, "j": self.journal_id, "m": self.mark}
        if self.epoch:
            data["e"] = self.epoch
        if repos:
            data["r"] = repos
        if self.spawned_at is not None:
            data["w"] = [round(self.spawned_at, 3), self.spawns]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> "ConsumerState | None":
        """The cursor, or None when there is none or it cannot be read (a fresh start)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            if data.get("v") != _VERSION:
                return None
            repos = {
                str(name): RepoState(
                    **{attr: fields[short] for attr, short in _FIELDS.items() if short in fields}
                )
                for name, fields in data.get("r", {}).items()
            }
            spawned = data.get("w") or [None, 0]
            return cls(
                journal_id=str(data["j"]),
                mark=int(data["m"]),
                epoch=str(data.get("e", "")),
                repos=repos,
                spawned_at=None if spawned[0] is None else float(spawned[0]),
                spawns=int(spawned[1]),
            )
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            return None

    def key_prefix(self, repo: str) -> str:
        return f"{repo}:{self.journal_id[:8]}-{self.epoch}"


def resume(
    previous: ConsumerState | None, journal_id: str, compacted: int, repos: set[str]
) -> tuple[ConsumerState, str | None]:
    """Loss detection: the state to go on from, and why every repository (``repos``) owes a
    whole-repository diff (None: nothing was lost). Changes may have been missed when there
    is no cursor on a journal already consumed, when the cursor is of another journal (the
    file was replaced), or when records were compacted beyond its mark (another consumer)."""
    if previous is None:
        fresh = ConsumerState(journal_id, compacted, epoch=new_epoch())
        if compacted == 0:
            return fresh, None
        return _owe(fresh, repos), (
            f"no cursor (a first start, or a reset) on a journal consumed up to "
            f"#{compacted}: what was applied is unknown"
        )
    if previous.journal_id != journal_id:
        moved = replace(previous, journal_id=journal_id, mark=compacted, repos={})
        why = f"the journal was replaced (id {previous.journal_id[:8]} → {journal_id[:8]})"
        return _owe(moved, repos | set(previous.repos)), why
    if compacted > previous.mark:
        why = (
            f"records #{previous.mark + 1}-#{compacted} were compacted before this consumer "
            "applied them (did another consumer run?)"
        )
        raised = {
            r: replace(s, applied=max(s.applied, compacted)) for r, s in previous.repos.items()
        }
        return _owe(replace(previous, mark=compacted, repos=raised), repos), why
    return previous, None


def _owe(state: ConsumerState, repos: set[str]) -> ConsumerState:
    """Every one of ``repos`` owes a whole-repository diff. A diff in flight may have read the
    disk before what was lost happened: it no longer settles the debt (``whole``)."""
    owed = dict(state.repos)
    for repo in repos:
        owed[repo] = replace(state.repo(repo), owe=True, whole=False)
    return replace(state, repos=owed)
