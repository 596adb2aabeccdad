"""The journal's one consumer, rule by rule, without Dagster: a real journal file, a real
guard state, real repository folders; the orchestrator is a dictionary of run outcomes and
the clock a number the test moves."""

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import orjson
import pytest

from snake_pipe_core import load_settings
from snake_pipe_core.config import WatchSettings
from snake_pipe_core.guard import GuardState
from snake_pipe_core.journal import (
    Change,
    ChangeJournal,
    ConsumerState,
    FileChange,
    JournalConsumer,
    Outcome,
    Plan,
    RepoState,
    backoff_s,
    open_journal,
)

pytestmark = pytest.mark.unit

C, D, R = Change.CHANGED, Change.DELETED, Change.RESCAN


class Site:
    """Repositories ``a`` and ``b``, their journal, and a consumer on a clock of our own."""

    def __init__(self, tmp_path: Path, journal: str | None = None, **watch: float) -> None:
        self.roots = {name: tmp_path / "repos" / name for name in ("a", "b")}
        for root in self.roots.values():
            root.mkdir(parents=True)
        self.settings = load_settings(
            env={},
            store=tmp_path / "store",
            repos=[{"name": n, "path": r} for n, r in self.roots.items()],
            watch=WatchSettings(
                journal=journal, **{"retry_base_s": 2.0, "retry_max_s": 16.0, **watch}
            ),
        )
        self.journal = open_journal(self.settings)
        self.guard = GuardState(tmp_path / "store")
        self.now = time.time()  # the guard stamps refusals with the real clock
        self.outcomes: dict[str, Outcome] = {}
        self.asked: list[list[str]] = []
        self.consumer = self.make_consumer()

    def make_consumer(self, **kwargs: object) -> JournalConsumer:
        return JournalConsumer(
            self.journal, self.settings, name="test", clock=lambda: self.now, **kwargs
        )  # type: ignore[arg-type]

    def outcome(self, keys: Sequence[str]) -> Mapping[str, Outcome]:
        self.asked.append(list(keys))
        return {k: self.outcomes[k] for k in keys if k in self.outcomes}

    def append(self, repo: str, *paths: str, change: Change = C) -> int:
        if change is R:
            return self.journal.append([FileChange(R, repo)])
        return self.journal.append([FileChange(change, repo, p) for p in paths])

    def plan(self, state: ConsumerState) -> Plan:
        return self.consumer.plan(state, self.outcome)

    def start(self, cursor: str | None = None) -> ConsumerState:
        state, lost = self.consumer.start(cursor)
        assert lost is None, lost
        return state


@pytest.fixture(params=["sqlite", "postgres"])
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    """The consumer's rules hold on either journal: the file, and PostgreSQL (across hosts)."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    s = Site(tmp_path, journal=dsn)
    try:
        yield s
    finally:
        s.journal.close()


def work_of(plan: Plan) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    return {w.repo: (w.key, w.paths) for w in plan.work}


def test_one_run_per_repository_keyed_by_its_records(site: Site) -> None:
    site.append("a", "x.json", "src/y.json")
    site.append("b", "z.json")
    site.append("a", "src", "x.json")  # a folder covers what is under it; duplicates fold
    state = site.start()
    plan = site.plan(state)
    prefix = state.key_prefix
    assert work_of(plan) == {
        "a": (f"{prefix('a')}:1-5", ("src", "x.json")),
        "b": (f"{prefix('b')}:3-3", ("z.json",)),
    }
    assert all(w.attempt == 0 and not w.confirmed for w in plan.work)
    # The same cursor over the same records plans the same keys: a tick evaluated twice
    # launches nothing twice.
    assert work_of(site.plan(state)) == work_of(plan)
    assert state.key_prefix("a") == f"a:{site.journal.journal_id[:8]}-{state.epoch}"


def test_a_change_counts_as_applied_only_once_its_run_succeeded(site: Site) -> None:
    site.append("a", "x.json")
    site.append("b", "y.json")
    planned = site.plan(site.start())
    keys = {w.repo: w.key for w in planned.work}
    assert planned.state.mark == 0  # requested is not applied
    cursor = planned.state.dumps()
    site.consumer.start(cursor)  # what a persisted cursor allows to compact
    assert site.journal.pending() == 2

    site.outcomes[keys["b"]] = "succeeded"  # a's run is still going
    later = site.plan(ConsumerState.loads(cursor))  # type: ignore[arg-type]
    assert later.work == [] and later.state.mark == 0  # a's record pins the mark…
    assert later.state.repo("b").applied == 2  # …while b's is applied
    assert later.waiting == {"a": f"its run {keys['a']} is in flight"}

    site.outcomes[keys["a"]] = "succeeded"
    done = site.plan(later.state)
    assert done.state.mark == 2 and done.state.repos == {}
    site.consumer.start(done.state.dumps())
    assert site.journal.pending() == 0 and site.journal.compacted_upto() == 2


def test_a_failed_run_is_tried_again_with_back_off_under_a_key_of_its_own(site: Site) -> None:
    site.append("a", "x.json")
    first = site.plan(site.start())
    [w] = first.work
    site.outcomes[w.key] = "failed"
    failed = site.plan(first.state)
    assert failed.work == [] and failed.state.mark == 0  # not applied: not compacted past
    assert failed.state.repo("a").attempt == 1
    assert failed.next_due == site.now + 2.0  # retry_base_s
    assert "failed" in failed.learned[0] and "try 2 in 2 s" in failed.learned[0]

    site.now += 1.9
    assert site.plan(failed.state).work == []  # not before its time
    site.now += 0.2
    again = site.plan(failed.state)
    [retry] = again.work
    assert (retry.key, retry.paths, retry.attempt) == (f"{w.key}.1", ("x.json",), 1)

    # Each failure doubles the wait, up to retry_max_s; the keys stay distinct.
    state, keys = again.state, [w.key, retry.key]
    for attempt in range(2, 6):
        site.outcomes[keys[-1]] = "failed"
        state = site.plan(state).state
        assert state.repo("a").retry_at == site.now + min(2.0 * 2 ** (attempt - 1), 16.0)
        site.now = state.repo("a").retry_at or 0
        plan = site.plan(state)
        keys.append(plan.work[0].key)
        state = plan.state
    assert len(set(keys)) == len(keys)
    site.outcomes[keys[-1]] = "succeeded"
    assert site.plan(state).state.mark == 1


def test_back_off() -> None:
    assert [backoff_s(n, 2.0, 16.0) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 16.0, 16.0]


def test_a_run_that_never_appears_is_taken_for_failed(site: Site) -> None:
    site.append("a", "x.json")
    plan = site.plan(site.start())
    site.now += 59
    assert site.plan(plan.state).state.repo("a").in_flight  # may still come
    site.now += 2
    gone = site.plan(plan.state)
    assert not gone.state.repo("a").in_flight and gone.state.repo("a").attempt == 1
    assert "never appeared" in gone.state.repo("a").error


def test_a_repository_with_a_run_in_flight_waits_and_its_changes_coalesce(site: Site) -> None:
    site.append("a", "x.json")
    first = site.plan(site.start())
    site.append("a", "y.json")
    site.append("a", "z.json")
    held = site.plan(first.state)
    assert held.work == []
    site.outcomes[first.work[0].key] = "succeeded"
    after = site.plan(held.state)
    [w] = after.work
    assert (w.paths, w.first_seq, w.last_seq) == (("y.json", "z.json"), 2, 3)


def test_a_failed_run_is_retried_with_the_changes_that_came_meanwhile(site: Site) -> None:
    site.append("a", "x.json")
    first = site.plan(site.start())
    site.append("a", "y.json")
    site.outcomes[first.work[0].key] = "failed"
    failed = site.plan(first.state)
    site.now += 2
    [retry] = site.plan(failed.state).work
    assert (retry.paths, retry.first_seq, retry.last_seq) == (("x.json", "y.json"), 1, 2)


@pytest.mark.parametrize(
    "records",
    [
        [("a", None)],  # a rescan marker
        [("a", f"f{i}.json") for i in range(5)],  # more paths than a run takes (4)
        [("a", os.fsdecode(b"caf\xe9.json"))],  # not UTF-8: run config is JSON
    ],
)
def test_these_are_diffed_whole(tmp_path: Path, records: list[tuple[str, str | None]]) -> None:
    site = Site(tmp_path, max_run_paths=4)
    for repo, path in records:
        site.append(repo, *([path] if path else []), change=C if path else R)
    [w] = site.plan(site.start()).work
    assert w.paths is None


def test_a_burst_the_watcher_saw_stays_a_run_of_paths(tmp_path: Path) -> None:
    """Thousands of deletions (a `git clean`) in a few top-level folders: their folders, not
    a whole-repository diff the mass-delete guard would judge as if nobody had seen them."""
    site = Site(tmp_path, max_run_paths=4)
    for i in range(60):  # more records than the consumer reads at once (10 x 4)
        site.append("a", f"build/d{i % 9}/f{i}.json", change=D)
    site.append("a", "src/x.json")
    [w] = site.plan(site.start()).work
    assert (w.paths, w.first_seq, w.last_seq) == (("build", "src"), 1, 61)


def test_unconfigured_repositories_are_skipped_and_pin_nothing(site: Site) -> None:
    site.append("gone", "x.json")
    site.append("a", "y.json")
    plan = site.plan(site.start())
    assert plan.dropped == {"gone": "not configured"}
    assert [w.repo for w in plan.work] == ["a"]
    site.outcomes[plan.work[0].key] = "succeeded"
    assert site.plan(plan.state).state.mark == 2


def test_a_tick_requests_a_bounded_number_of_runs_and_the_rest_wait(site: Site) -> None:
    site.consumer = site.make_consumer(max_runs=1)
    site.append("a", "x.json")
    site.append("b", "y.json")
    plan = site.plan(site.start())
    assert [w.repo for w in plan.work] == ["a"] and "b" in plan.waiting
    assert [w.repo for w in site.plan(plan.state).work] == ["b"]


# -- lost records --------------------------------------------------------------------------


def test_records_compacted_before_the_consumer_applied_them_owe_a_whole_diff(site: Site) -> None:
    site.append("a", "x.json")
    cursor = site.plan(site.start()).state.dumps()
    site.append("b", "y.json")
    site.journal.compact(2)  # someone else consumed the journal
    state, lost = site.consumer.start(cursor)
    assert lost is not None and "#1-#2 were compacted" in lost
    assert state.mark == 2 and state.repo("a").owe and state.repo("b").owe
    plan = site.plan(state)
    assert {w.repo: w.paths for w in plan.work} == {"b": None}  # a waits for its run
    keys = {w.repo: w.key for w in plan.work}
    assert keys["b"] == f"{state.key_prefix('b')}:r2-2"
    # a's run in flight read the disk before what was lost: it does not settle a's debt
    site.outcomes[ConsumerState.loads(cursor).repo("a").key or ""] = "succeeded"  # type: ignore[union-attr]
    site.outcomes[keys["b"]] = "succeeded"
    after = site.plan(plan.state)
    assert [(w.repo, w.paths, w.why) for w in after.work] == [("a", None, "a diff it owed")]
    site.outcomes[after.work[0].key] = "succeeded"
    assert site.plan(after.state).state.repos == {}


def test_a_replaced_journal_or_no_cursor_on_a_consumed_one_rescans_everything(
    site: Site, tmp_path: Path
) -> None:
    site.append("a", "x.json")
    cursor = site.start().dumps()
    site.journal.compact(1)
    fresh, lost = site.consumer.start(None)
    assert lost is not None and "no cursor" in lost
    assert {r for r, s in fresh.repos.items() if s.owe} == {"a", "b"}
    with ChangeJournal(tmp_path / "other.sqlite") as other:
        moved, lost = JournalConsumer(other, site.settings, name="test").start(cursor)
    assert lost is not None and "replaced" in lost
    assert moved.journal_id == other.journal_id and moved.mark == 0
    assert {r for r, s in moved.repos.items() if s.owe} == {"a", "b"}
    assert ConsumerState.loads("not json") is None and ConsumerState.loads(None) is None


def test_cursor_round_trip() -> None:
    state = ConsumerState(
        "j" * 32,
        7,
        "abc123",
        {
            "a": RepoState(
                applied=9,
                key="k",
                upto=12,
                whole=True,
                since=5.5,
                attempt=2,
                retry_at=8.0,
                owe=True,
                refused=True,
                error="boom",
            )
        },
        spawned_at=1.5,
        spawns=2,
    )
    assert ConsumerState.loads(state.dumps()) == state
    assert len(ConsumerState("j" * 32).dumps()) < 60  # nothing but the essentials


# -- refusals ----------------------------------------------------------------------------------


def test_a_missing_root_is_refused_without_a_run_and_tried_again(site: Site) -> None:
    site.append("a", "x.json")
    site.roots["a"].rename(site.roots["a"].with_name("away"))
    plan = site.plan(site.start())
    assert plan.work == [] and plan.refused == ["a"]
    refusal = site.guard.refusal("a")
    assert refusal is not None and refusal.kind == "unavailable" and refusal.refusals == 1
    assert refusal.retry_at == site.now + 2.0 and refusal.retry_by == "test"
    assert plan.state.mark == 0  # nothing dropped

    site.now += 2
    again = site.plan(plan.state)
    assert again.work == [] and again.refused == []  # not "new" any more
    assert site.guard.refusal("a").refusals == 2  # type: ignore[union-attr]
    site.roots["a"].with_name("away").rename(site.roots["a"])
    site.now += 4
    [w] = site.plan(again.state).work
    assert w.paths == ("x.json",) and w.attempt == 2


def test_a_run_refused_by_the_guard_is_seen_as_refused_and_a_confirmation_hurries_it(
    site: Site,
) -> None:
    site.append("a", None, change=R)
    plan = site.plan(site.start())
    [w] = plan.work
    site.now += 3
    site.guard.refuse("a", "vanished", "100 of 100 files are gone")  # what the run recorded
    site.outcomes[w.key] = "failed"  # all an orchestrator can tell
    refused = site.plan(plan.state)
    assert refused.refused == ["a"] and refused.state.repo("a").refused
    assert "refused (vanished)" in refused.learned[0]
    assert site.guard.refusal("a").retry_at == refused.state.repo("a").retry_at  # type: ignore[union-attr]

    site.guard.confirm("a")  # a person: the files really are gone
    [confirmed] = site.plan(refused.state).work  # at once, not after the back-off
    assert confirmed.confirmed and confirmed.paths is None and confirmed.attempt == 1


def test_refusals_already_standing_before_the_run_do_not_make_it_refused(site: Site) -> None:
    site.guard.refuse("a", "mount", "on another mount")
    site.now += 10
    site.append("a", "x.json")
    plan = site.plan(site.start())
    site.outcomes[plan.work[0].key] = "failed"
    failed = site.plan(plan.state)
    assert failed.refused == [] and not failed.state.repo("a").refused


# -- the tick with a wait ---------------------------------------------------------------------


def test_next_waits_for_news_and_answers_when_a_record_comes(site: Site) -> None:
    site.consumer = site.make_consumer()
    site.consumer.clock = time.time  # type: ignore[method-assign]
    empty = site.consumer.next(None, site.outcome, wait_s=0.2)
    assert empty.work == []
    writer = threading.Timer(0.3, lambda: site.append("a", "x.json"))
    writer.start()
    started = time.monotonic()
    plan = site.consumer.next(empty.state.dumps(), site.outcome, wait_s=20)
    writer.join()
    assert [w.paths for w in plan.work] == [("x.json",)]
    assert time.monotonic() - started < 15  # it answered when the record came


def test_next_answers_when_a_run_in_flight_ends(site: Site) -> None:
    site.consumer.clock = time.time  # type: ignore[method-assign]
    site.append("a", "x.json")
    first = site.consumer.next(None, site.outcome, wait_s=0)
    site.append("a", "y.json")  # waits for the run in flight
    key = first.work[0].key
    threading.Timer(0.3, lambda: site.outcomes.__setitem__(key, "succeeded")).start()
    plan = site.consumer.next(first.state.dumps(), site.outcome, wait_s=20)
    assert [w.paths for w in plan.work] == [("y.json",)]
    assert any(f"{key} succeeded" in line for line in plan.learned)


def test_the_status_snapshot_says_what_waits(site: Site) -> None:
    site.append("a", "x.json")
    plan = site.plan(site.start())
    site.outcomes[plan.work[0].key] = "failed"
    failed = site.plan(plan.state)
    site.consumer.publish(failed)
    snapshot = orjson.loads(site.journal.load_value("consumer-status") or "{}")
    assert snapshot["consumer"] == "test" and snapshot["mark"] == 0
    assert snapshot["repos"]["a"]["tries_failed"] == 1
    assert snapshot["repos"]["a"]["retry_in_s"] == 2
