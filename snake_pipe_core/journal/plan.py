"""What the consumer hands out: the work of one run, the plan of one tick, and the outcomes
it learns back (:mod:`snake_pipe_core.journal.consumer` decides them)."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .state import ConsumerState

__all__ = ["Outcome", "OutcomeFn", "Plan", "Work", "backoff_s", "utf8"]

# pending: queued or running; succeeded: committed; failed: failed, killed or cancelled;
# refused: the mass-delete guard refused it (failed, for an orchestrator that cannot tell).
Outcome = Literal["pending", "succeeded", "failed", "refused"]
# Run keys → what became of them; keys it does not know are left out.
OutcomeFn = Callable[[Sequence[str]], Mapping[str, Outcome]]


def backoff_s(attempt: int, base: float, cap: float) -> float:
    """The wait before try ``attempt + 1`` (``attempt`` tries failed in a row)."""
    return float(min(base * 2 ** max(attempt - 1, 0), cap))


@dataclass(frozen=True, slots=True)
class Work:
    """One run to start: ``paths`` None means a whole-repository diff."""

    repo: str
    key: str
    paths: tuple[str, ...] | None
    first_seq: int | None
    last_seq: int
    records: int
    attempt: int  # tries that failed before this one
    why: str
    confirmed: bool = False  # a person confirmed the deletions the guard refused

    def describe(self) -> str:
        what = "whole repository" if self.paths is None else f"{len(self.paths)} path(s)"
        again = f", try {self.attempt + 1}" if self.attempt else ""
        return f"{self.repo} ({what}: {self.why}{again})"


@dataclass(frozen=True, slots=True)
class Plan:
    """What one tick does, and the cursor to persist once its runs are submitted."""

    work: list[Work]
    state: ConsumerState
    head: int
    lost: str | None = None
    waiting: dict[str, str] = field(default_factory=dict)  # repo → why not now
    learned: list[str] = field(default_factory=list)  # what became of earlier runs
    refused: list[str] = field(default_factory=list)  # newly refused repositories
    dropped: dict[str, str] = field(default_factory=dict)  # records skipped, and why
    next_due: float | None = None  # the earliest retry that waits for its time


def utf8(paths: Sequence[str]) -> bool:
    """Run config travels as JSON: a name that is not UTF-8 cannot go in it."""
    try:
        for p in paths:
            p.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
