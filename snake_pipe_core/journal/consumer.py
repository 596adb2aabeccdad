"""The journal's one consumer: from records to runs, at least once, until they succeeded.

Both ways of applying the journal call it — ``snake-pipe watch --ingest`` runs each
:class:`Work` in its own process (:mod:`snake_pipe_core.journal.local`), the Dagster sensor
turns each into a run request — so the rules below hold for both:

**The lease.** One consumer at a time (:meth:`JournalConsumer.claim`): only it compacts.

**The cursor** (:class:`~snake_pipe_core.journal.state.ConsumerState`). A change counts as
applied only when the run that applies it has committed (it *succeeded*), never when it is
requested. The mark — below it every record is applied — stops at the first record of any
repository that is not, and the journal is compacted only up to a mark that was persisted
(the previous tick's: the orchestrator persists a cursor after it has submitted its runs).

**Loss detection.** A cursor of another journal (the file was replaced), a mark below the
journal's compaction mark (someone else compacted records this consumer never applied), or
no cursor at all on a journal already consumed: changes may have been missed, and every
configured repository owes a whole-repository diff.

**Planning.** One run per repository at a time: a repository with a run in flight waits for
it, and the next run covers all of its records since. A repository's records (all of them
after what is applied) become one :class:`Work`: its paths (folded, duplicates gone), or the
whole repository for a rescan marker, more than ``watch.max_run_paths`` paths, a name that is
not UTF-8 (run config travels as JSON) or an owed diff. Its run key is
``<repo>:<journal id[:8]>-<epoch>:<first>-<last>[.<try>]``: the same cursor over the same
records gives the same key, so an orchestrator that evaluates a tick twice launches nothing
twice, and every retry has a key of its own.

**Retries.** A run that failed, was killed (its orchestrator reports it failed, or it never
appears: :attr:`missing_after_s`), or was refused by the mass-delete guard is tried again —
the same records, regrouped — after a back-off of ``watch.retry_base_s`` doubling up to
``watch.retry_max_s``, for as long as it takes. A configured root that is not a folder is
refused here, without a run. A refusal stands, visible, in the guard's state
(:mod:`snake_pipe_core.guard.state`) until a run succeeds or a person confirms the deletions
(then the next try runs at once, allowed to mark them deleted).
"""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import orjson

from ..config import Settings
from ..guard import GuardState, Refusal
from .base import Journal
from .changes import group_changes
from .plan import OutcomeFn, Plan, Work, backoff_s, utf8
from .state import ConsumerState, RepoState, resume

__all__ = ["CURSOR_VALUE", "STATUS_VALUE", "JournalConsumer"]

log = logging.getLogger(__name__)
STATUS_VALUE = "consumer-status"
CURSOR_VALUE = "cursor"  # where a consumer without an orchestrator keeps its cursor
_ERROR_CHARS = 300


class JournalConsumer:
    """The consumer of one journal.

    Args:
        journal: the journal (its owner closes it).
        settings: repositories, ``[watch]`` tuning and the store (where the guard's state is).
        name: the name the lease is held under.
        missing_after_s: a requested run the outcome source has never heard of after this
            long is taken for failed (0: at once, for a consumer that runs its own work).
        repositories: slug → root (default ``settings.repositories``), re-read each plan.
        guard: the guard's state (default: beside the store).
        clock: unix time (a seam for tests).
    """

    def __init__(
        self,
        journal: Journal,
        settings: Settings,
        *,
        name: str,
        missing_after_s: float = 60.0,
        repositories: Callable[[], Mapping[str, Path]] | None = None,
        guard: GuardState | None = None,
        clock: Callable[[], float] = time.time,
        max_runs: int = 1000,
    ) -> None:
        from ..store import Store  # the store package is heavy; its folder is all we need

        self.journal = journal
        self.settings = settings
        self.name = name
        self.missing_after_s = missing_after_s
        self.repositories = repositories or settings.repositories
        self.guard = guard or GuardState(Store(settings.store_location).path)
        self.clock = clock
        self.max_runs = max_runs
        self._published: str | None = None

    # -- the lease ---------------------------------------------------------------------------

    def claim(self) -> str | None:
        """Take or renew the lease; None when this process holds it, else who does."""
        return self.journal.claim_consumer(self.name)

    def release(self) -> None:
        self.journal.release_consumer(self.name)

    # -- the cursor ----------------------------------------------------------------------------

    def start(self, cursor: str | None) -> tuple[ConsumerState, str | None]:
        """The state to plan from, and why every repository must be diffed whole (None:
        nothing was lost; see :func:`~snake_pipe_core.journal.state.resume`). Compacts the
        journal up to the mark of ``cursor``, which the caller persisted."""
        j = self.journal
        previous = ConsumerState.loads(cursor)
        if cursor and previous is None:
            log.warning("unreadable cursor %r: starting afresh", cursor[:200])
        if previous is not None and previous.journal_id == j.journal_id:
            if previous.mark > j.compacted_upto():
                try:
                    j.compact(previous.mark)
                except Exception as e:  # housekeeping: never fail a tick for it
                    log.warning("could not compact the journal up to #%d: %s", previous.mark, e)
        return resume(previous, j.journal_id, j.compacted_upto(), set(self.repositories()))

    # -- planning ------------------------------------------------------------------------------

    def plan(self, state: ConsumerState, outcome: OutcomeFn, *, lost: str | None = None) -> Plan:
        """Learn what became of the runs in flight, then plan the next runs (see the module
        docstring). Persist ``plan.state`` once the work is submitted."""
        now = self.clock()
        repos = dict(state.repos)
        learned: list[str] = []
        refused: list[str] = []
        refusals = {r.repo: r for r in self.guard.refusals()}
        self._learn(repos, outcome, now, refusals, learned, refused)

        head = self.journal.last_seq()
        news = self.journal.repos_after(state.mark)
        head = max([head, *(last for _, last, _ in news.values())])
        configured = self.repositories()
        work: list[Work] = []
        waiting: dict[str, str] = {}
        dropped: dict[str, str] = {}
        due: list[float] = []
        for repo in sorted(set(news) | {r for r, s in repos.items() if s.owe}):
            s = repos.get(repo) or RepoState(applied=state.mark)
            applied = max(s.applied, state.mark)
            last = news[repo][1] if repo in news else 0
            if last <= applied and not s.owe:
                continue
            if s.in_flight:
                waiting[repo] = f"its run {s.key} is in flight"
                continue
            root = configured.get(repo)
            if root is None:
                dropped[repo] = "not configured"
                repos[repo] = RepoState(applied=max(last, applied))
                continue
            refusal = refusals.get(repo)
            confirmed = refusal is not None and refusal.confirmed_at is not None
            if s.retry_at is not None and now < s.retry_at and not confirmed:
                waiting[repo] = f"try {s.attempt + 1} in {s.retry_at - now:.0f} s ({s.error})"
                due.append(s.retry_at)
                continue
            if not root.is_dir():
                detail = f"its root {root} is missing or not a folder (not mounted?)"
                rec = self.guard.refuse(repo, "unavailable", detail)
                repos[repo] = self._failed(replace(s, applied=applied), now, detail, True, rec)
                if not s.refused:
                    refused.append(repo)
                waiting[repo] = f"refused: {detail}"
                due.append(repos[repo].retry_at or now)
                continue
            if len(work) >= self.max_runs:
                waiting[repo] = f"past the {self.max_runs} runs of a tick"
                continue
            first = news[repo][0] if repo in news else 0
            if first <= applied < last:
                first = self.journal.first_after(repo, applied) or last
            job = self._work(state, repo, s, (applied, first, last), confirmed, head)
            work.append(job)
            repos[repo] = replace(
                s,
                applied=applied,
                key=job.key,
                upto=max(last, applied),
                whole=job.paths is None,
                since=now,
                retry_at=None,
            )
        mark = self._mark(state.mark, news, repos, head)
        repos = {
            r: replace(s, applied=max(s.applied, mark))
            for r, s in repos.items()
            if not s.is_idle_at(mark)
        }
        return Plan(
            work=work,
            state=replace(state, mark=mark, repos=repos),
            head=head,
            lost=lost,
            waiting=waiting,
            learned=learned,
            refused=refused,
            dropped=dropped,
            next_due=min(due) if due else None,
        )

    def _learn(
        self,
        repos: dict[str, RepoState],
        outcome: OutcomeFn,
        now: float,
        refusals: Mapping[str, Refusal],
        learned: list[str],
        refused: list[str],
    ) -> None:
        flying = {r: s for r, s in repos.items() if s.key is not None}
        if not flying:
            return
        answers = outcome([s.key for s in flying.values() if s.key is not None])
        for repo, s in flying.items():
            assert s.key is not None
            got = answers.get(s.key)
            if got is None and now - s.since >= self.missing_after_s:
                got = "failed"
                error = "the run never appeared (not launched, or its record is gone)"
            else:
                error = "the run failed or was killed"
            if got is None or got == "pending":
                continue
            if got == "succeeded":
                repos[repo] = replace(
                    s,
                    applied=max(s.applied, s.upto),
                    key=None,
                    upto=0,
                    whole=False,
                    since=0.0,
                    attempt=0,
                    retry_at=None,
                    owe=s.owe and not s.whole,
                    refused=False,
                    error="",
                )
                learned.append(
                    f"{repo}: {s.key} succeeded; its records up to #{s.upto} are applied"
                )
                continue
            rec = refusals.get(repo)
            was_refused = got == "refused" or (rec is not None and rec.last_at >= s.since)
            if was_refused and rec is not None:
                error = f"refused ({rec.kind}): {rec.detail}"
            failed = self._failed(s, now, error, was_refused, rec)
            repos[repo] = failed
            if was_refused and not s.refused:
                refused.append(repo)
            learned.append(
                f"{repo}: {s.key} {'was refused' if was_refused else 'failed'} ({error}); "
                f"try {failed.attempt + 1} in {(failed.retry_at or now) - now:.0f} s"
            )

    def _failed(
        self, s: RepoState, now: float, error: str, was_refused: bool, rec: Refusal | None
    ) -> RepoState:
        w = self.settings.watch
        attempt = s.attempt + 1
        retry_at = now + backoff_s(attempt, w.retry_base_s, w.retry_max_s)
        if was_refused and rec is not None:
            try:
                self.guard.schedule(rec.repo, retry_at, self.name)
            except Exception as e:  # shown by status only
                log.warning("could not note the next try of %s: %s", rec.repo, e)
        return replace(
            s,
            key=None,
            upto=0,
            whole=False,
            since=0.0,
            attempt=attempt,
            retry_at=retry_at,
            refused=was_refused,
            error=error[:_ERROR_CHARS],
        )

    def _work(
        self,
        state: ConsumerState,
        repo: str,
        s: RepoState,
        span: tuple[int, int, int],
        confirmed: bool,
        head: int,
    ) -> Work:
        """The work of one repository: its records in ``(applied, last]``, the first of them
        ``first``."""
        applied, first, last = span
        prefix = state.key_prefix(repo)
        again = f".{s.attempt}" if s.attempt else ""
        if last <= applied:  # an owed diff, no records of its own
            key = f"{prefix}:r{state.mark}-{head}{again}"
            return Work(repo, key, None, None, applied, 0, s.attempt, "a diff it owed", confirmed)
        key = f"{prefix}:{first}-{last}{again}"
        if s.owe:
            return Work(repo, key, None, first, last, 0, s.attempt, "a diff it owed", confirmed)
        max_paths = self.settings.watch.max_run_paths
        limit = 10 * max_paths
        records = self.journal.read_repo(repo, applied, last, limit)
        paths: tuple[str, ...] | None
        if len(records) < limit:
            grouped = group_changes(records, max_paths=max_paths).get(repo)
            paths = grouped.paths if grouped is not None else None
        else:  # more records than are read at once: their top-level entries
            tops = self.journal.top_levels(repo, applied, last, max_paths + 1)
            paths = tuple(sorted(tops)) if tops is not None and len(tops) <= max_paths else None
        if paths is None:
            why, paths = "a rescan marker, or more top-level entries than a run takes paths", None
        elif not utf8(paths):
            why, paths = "a name that is not UTF-8", None
        else:
            why = "changes"
        return Work(repo, key, paths, first, last, len(records), s.attempt, why, confirmed)

    def _mark(
        self,
        mark: int,
        news: Mapping[str, tuple[int, int, int]],
        repos: Mapping[str, RepoState],
        head: int,
    ) -> int:
        """The first record not applied, minus one (everything read so far: ``head``)."""
        firsts = []
        for repo, (first, last, _) in news.items():
            applied = max(repos[repo].applied if repo in repos else mark, mark)
            if last <= applied:
                continue
            firsts.append(first if first > applied else self.journal.first_after(repo, applied))
        pinned = [f for f in firsts if f is not None]
        return min(pinned) - 1 if pinned else max(mark, head)

    # -- the sensor's tick, with a wait for news --------------------------------------------

    def next(
        self,
        cursor: str | None,
        outcome: OutcomeFn,
        *,
        wait_s: float,
        supervise: Callable[[ConsumerState], ConsumerState] | None = None,
    ) -> Plan:
        """Start from ``cursor`` and plan; with nothing to launch, wait up to ``wait_s`` for
        a new record, the end of a run in flight or a retry's time, and plan again.
        ``supervise`` may update the state first (a watcher started: ``keep_watcher_alive``).
        """
        state, lost = self.start(cursor)
        if supervise is not None:
            state = supervise(state)
        deadline = time.monotonic() + wait_s
        learned: list[str] = []
        refused: list[str] = []
        while True:
            plan = self.plan(state, outcome, lost=lost)
            learned += plan.learned
            refused += plan.refused
            state = plan.state
            if plan.work or time.monotonic() >= deadline or not self._wait(plan, deadline, outcome):
                break
        self.publish(plan)
        return replace(plan, learned=learned, refused=refused)

    def _wait(self, plan: Plan, deadline: float, outcome: OutcomeFn) -> bool:
        """Wait for news until ``deadline``; True when there is some."""
        head = self.journal.last_seq()
        flying = [s.key for s in plan.state.repos.values() if s.key is not None]
        next_check = time.monotonic() + 0.5
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.05, left))
            if self.journal.last_seq() != head:
                return True
            if plan.next_due is not None and self.clock() >= plan.next_due:
                return True
            if flying and time.monotonic() >= next_check:
                if any(v != "pending" for v in outcome(flying).values()):
                    return True
                next_check = time.monotonic() + 0.5
        return False

    # -- what status shows -------------------------------------------------------------------

    def publish(self, plan: Plan, *, cursor: str | None = None) -> None:
        """Keep a snapshot of the plan in the journal for ``snake-pipe watch --status``, in
        the same write as ``cursor`` (a consumer that keeps its cursor in the journal)."""
        now = self.clock()
        repos = {
            repo: {
                "in_flight": s.key,
                "whole": s.whole if s.key else None,
                "tries_failed": s.attempt,
                "retry_in_s": None if s.retry_at is None else round(max(0.0, s.retry_at - now)),
                "owes_diff": s.owe,
                "refused": s.refused,
                "error": s.error or None,
            }
            for repo, s in sorted(plan.state.repos.items())
            if s.key or s.attempt or s.owe
        }
        body = orjson.dumps(
            {"consumer": self.name, "mark": plan.state.mark, "head": plan.head, "repos": repos},
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        values: dict[str, str | None] = {} if cursor is None else {CURSOR_VALUE: cursor}
        if body != self._published:
            values[STATUS_VALUE] = body[:-1] + f',"at":{now:.3f}}}'
        if not values:
            return
        try:
            self.journal.save_values(values)
            self._published = body
        except Exception as e:
            if cursor is not None:
                raise  # the cursor matters: the caller must not go on without it
            log.warning("could not publish the consumer's status: %s", e)  # for people only
