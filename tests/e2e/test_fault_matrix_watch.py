"""The fault matrix through ``snake-pipe watch --ingest``: the consumer and the watcher in one
real process (workers 2: its runs use the worker pool), a plain reader polling the store all
along, and every scenario of issue 7 ending with the store equal to a fresh ingest of the
same trees. Times to convergence go to ``test-artifacts/fault-matrix-watch.json``."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.plain_reader import polling_reader, reader_report
from tests.e2e.fault_matrix import (
    SCENARIOS,
    FaultSite,
    Result,
    StorePoller,
    can_mount,
    cli,
    journal_watcher_pid,
    make_fault_site,
    reference,
    run_ended,
    running_run,
    tail,
    unmounted_root,
    wait_until,
)
from tests.e2e.harness import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
ARTIFACTS = ROOT / "test-artifacts"
RESULTS: list[Result] = []


class WatchIngest:
    """``snake-pipe watch --ingest`` as a user runs it, in a session of its own."""

    name = "snake-pipe watch --ingest"

    def __init__(self, site: FaultSite) -> None:
        self.site = site
        self.log = site.base / "watch-ingest.log"
        self.proc: subprocess.Popen[bytes] | None = None
        site.diagnostics.append(self.diagnose)

    def diagnose(self) -> str:
        """Every thread's stack (``snake-pipe watch`` writes them on SIGUSR1) and the end of
        the log."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGUSR1)
            time.sleep(1.0)
        return tail(self.log)

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKE_PIPE_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "snake_pipe_core.cli", "watch", "--ingest"],
                env={**env, **self.site.process_env()},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until("the watcher's heartbeat",
                   lambda: journal_watcher_pid(self.site) == self.pid, 60)  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def watcher_pid(self) -> int:
        return self.pid

    def kill_watcher(self) -> None:
        os.killpg(self.pid, signal.SIGKILL)  # the process and its analysis workers
        assert self.proc is not None
        self.proc.wait()

    def restart_watcher(self) -> None:
        self.start()

    def kill_run(self, repo: str, since: float) -> int | None:
        """The run goes on in this process's ingest thread; its analysis in the worker pool
        (forkserver children): SIGKILL one worker after the run's first commit. The run can
        end, and its pool with it, before both are seen: then None."""

        def worker_or_end() -> int | bool:
            if running_run(self.site, repo, since) is None:
                return run_ended(self.site, repo, since)
            workers = _grandchildren(self.pid)
            return workers[0] if workers else False

        found = wait_until(f"a worker of a run of {repo} in progress", worker_or_end, 120, 0.02)
        if found is True:
            return None
        try:
            os.kill(found, signal.SIGKILL)
        except ProcessLookupError:  # the pool shut down meanwhile: the run has ended
            return None
        return int(found)

    def kill_landed(self, repo: str, since: float) -> bool:
        """The run ended failed: a worker of its pool died (not all its work was done)."""

        wait_until(f"the end of the run of {repo}", lambda: run_ended(self.site, repo, since), 120)
        rows = self.site.store.query(
            "SELECT status, error FROM runs WHERE repo = ? AND epoch(started_at) > ?", [repo, since]
        )
        return any(s == "failed" and "process pool" in (e or "") for s, e in rows)

    def failed_runs(self, repo: str, since: float) -> int:
        refusal = self.site.refusal(repo)  # a root that cannot be read fails before the run
        return refusal.refusals if refusal is not None and refusal.last_at >= since else 0


def _grandchildren(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                               .split()[1])  # fmt: skip
            except (OSError, IndexError, ValueError):
                continue
    children = {p for p, parent in parents.items() if parent == pid}
    return sorted(p for p, parent in parents.items() if parent in children)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultSite]:
    s = make_fault_site(tmp_path_factory.mktemp("fault-watch"), workers=2, gamma=can_mount())
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def consumer(site: FaultSite) -> Iterator[WatchIngest]:
    c = WatchIngest(site)
    reads: Path | None = None
    c.start()
    try:
        first = StorePoller(site.store, diagnose=site.diagnose).start()
        first.converged(reference(site, site.base / "scratch"), timeout=180)
        # The plain reader polls from here (it would read a store not yet created before).
        with polling_reader(site.store.path, site.base, pause=0.05) as reads:
            yield c
    finally:
        c.stop()
    if reads is not None:
        _report(reads)


def _report(reads: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    report = {"results": [r.__dict__ for r in RESULTS], "plain_reader": reader_report(reads)}
    (ARTIFACTS / "fault-matrix-watch.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nfault matrix, snake-pipe watch --ingest:")
    for r in RESULTS:
        print(f"  {r.scenario}: converged in {r.seconds:.2f} s {r.notes or ''}")
    print(f"  plain reader: {report['plain_reader']}")
    assert report["plain_reader"]["reads"] > 0
    assert report["plain_reader"]["failed_reads"] == 0, report["plain_reader"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_the_store_converges_after(
    scenario, site: FaultSite, consumer: WatchIngest, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = scenario(site, consumer, tmp_path)
    RESULTS.append(result)
    if scenario.__name__ == "run_fails_root_unreadable":
        assert result.notes["failed_runs"] >= 2 and result.notes["recorded_as"] == "unavailable"
    if scenario.__name__ == "sigkill_run_mid_run":
        status = site.store.query(
            "SELECT count(*) FROM runs WHERE repo = 'beta' AND status = 'failed' "
            "AND error LIKE '%process pool%'"
        )[0][0]
        assert status >= 1  # the killed worker failed the run; the retry converged
    if scenario.__name__ == "kernel_queue_overflow":
        assert "queue overflow" in consumer.log.read_text(errors="replace")
    print(
        f"{result.scenario}: {result.seconds:.2f} s (scenario {time.monotonic() - started:.0f} s)"
    )


@pytest.mark.skipif(not can_mount(), reason="mounting needs root (CI runs as root)")
def test_an_unmounted_root_refuses_visibly_and_converges_once_mounted(
    site: FaultSite, consumer: WatchIngest, tmp_path: Path
) -> None:
    def visible() -> dict[str, object]:
        status = json.loads(cli(site, "watch", "--status", "--json").stdout)
        [refusal] = [r for r in status["refusals"] if r["repo"] == "gamma"]
        assert refusal["kind"] in ("mount", "empty") and refusal["retry_at"] is not None
        assert status["consumer"]["repos"]["gamma"]["tries_failed"] >= 1
        rows = json.loads(cli(site, "status", "--json").stdout)
        [row] = [r for r in rows if r["repo"] == "gamma"]
        assert row["refused"] == refusal["kind"] and row["deleted"] == 0
        return {"watch_status_shows": refusal["kind"], "status_shows": row["refused"]}

    result = unmounted_root(site, consumer, tmp_path, visible=visible)
    RESULTS.append(result)
    print(f"{result.scenario}: {result.seconds:.2f} s {result.notes}")
