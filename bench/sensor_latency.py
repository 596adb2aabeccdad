"""Change → row latency through Dagster: ``ast_change_sensor`` under a real ``dagster dev``.

Issue 4's target: a file closed → its row visible in ``extracted_files`` in p95 ≤ 5 s through
the sensor. This starts ``dagster dev`` (webserver, daemon, code server) on 127.0.0.1 with a
temporary DAGSTER_HOME holding the project's ``dagster.yaml``, on two generated repositories;
turns ``ast_change_sensor`` on through GraphQL (it starts the watcher); waits for the first
ingest; then edits one file at a time and times close → the row with the new content hash is
visible to a reader (polled every ``--poll`` s). Meanwhile another process, a plain reader
with one ``connect_readonly()`` connection, queries the store every ``--reader-poll`` s and its
failed reads are counted (``--reader-poll 0``: no reader). Each edit waits for
the runs before it to end, then a random 0.2-5.2 s, so edits land uniformly over the daemon's
5 s sensor cycle. It prints p50/p95 and where the time goes (per Dagster's run
timestamps: close → run requested, requested → started, started → visible). Asserts nothing.

Everything it starts is stopped at the end (``dagster dev`` by its process group, the watcher
by the pid in the journal), and the temporary folder is removed unless ``--workdir``.

Usage::

    python -m bench.sensor_latency                    # 50 edits, 2 repositories of ~400 files
    python -m bench.sensor_latency --small            # a quick check (5 edits)
    python -m bench.sensor_latency --wait 0           # without the sensor's wait for news
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.plain_reader import polling_reader, reader_report  # noqa: E402
from tests.e2e.change_site import (  # noqa: E402
    make_site,
    measure_latency,
    start_change_sensor,
    stop_watchers,
    store_equals_fresh_ingest,
    summary,
    watcher_pid,
)
from tests.e2e.harness import wait_for  # noqa: E402

__all__ = ["main"]


def run(
    work: Path, samples: int, modules: int, poll: float, wait: str | None, reader_poll: float
) -> dict[str, object]:
    site = make_site(work / "site", modules=modules)
    env = {"SNAKE_PIPE_CHANGE_WAIT_S": wait} if wait is not None else {}
    dev = site.dagster_dev(**env)
    started = time.monotonic()
    dev.start()
    try:
        wait_for("the GraphQL endpoint", lambda: dev.graphql("{ version }"), timeout=180)
        start_change_sensor(dev)
        pid = wait_for("the watcher's heartbeat", lambda: watcher_pid(site), timeout=120)
        print(f"dagster dev up and the sensor's watcher (pid {pid}) running in "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
        store_equals_fresh_ingest(site, work / "scratch", timeout=300)
        print(f"first ingest of {len(site.repos)} repositories done at "
              f"{time.monotonic() - started:.1f} s; measuring {samples} edits")  # fmt: skip
        if reader_poll > 0:
            with polling_reader(site.settings.store_location.folder or work, work,
                                pause=reader_poll) as reads:  # fmt: skip
                result = summary(measure_latency(site, dev, samples, poll=poll))
            result["plain_reader"] = reader_report(reads) | {"every_s": reader_poll}
        else:
            result = summary(measure_latency(site, dev, samples, poll=poll))
    except BaseException:
        print(dev.log_tail(), file=sys.stderr)
        raise
    finally:
        dev.stop()
        stopped = stop_watchers(site)
        print(f"dagster dev stopped; watcher(s) stopped: {stopped}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sensor_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--samples", type=int, default=50, help="edits timed")
    parser.add_argument("--modules", type=int, default=80,
                        help="modules per repository (5 AST files each)")  # fmt: skip
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between checks")
    parser.add_argument("--wait", help="SNAKE_PIPE_CHANGE_WAIT_S for the sensor (default 4)")
    parser.add_argument("--reader-poll", type=float, default=0.05,
                        help="a plain reader in another process queries the store this often "
                        "(seconds; 0: no reader)")  # fmt: skip
    parser.add_argument("--small", action="store_true", help="a quick check: 5 edits")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--workdir", type=Path, help="where to generate (default: a temp "
                        "folder, removed afterwards)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.small:
        args.samples, args.modules = 5, 8
    work = args.workdir or Path(tempfile.mkdtemp(prefix="snake-pipe-sensor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run(work, args.samples, args.modules, args.poll, args.wait, args.reader_poll)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"latency through ast_change_sensor, close → row in extracted_files ({result['samples']} "
        f"edits, polled every {args.poll * 1000:.0f} ms): p50 {result['p50_s']:.2f} s, "
        f"p95 {result['p95_s']:.2f} s, max {result['max_s']:.2f} s, mean {result['mean_s']:.2f} s"
    )
    for part in ("close_to_run_request_s", "run_request_to_start_s", "run_start_to_visible_s"):
        print(f"  {part}: {result[part]}")
    if "plain_reader" in result:
        r = result["plain_reader"]
        print(
            f"  a plain reader queried the store every {r['every_s'] * 1000:.0f} ms meanwhile: "  # type: ignore[index]
            f"{r['reads']} reads, {r['failed_reads']} failed {r['errors'] or ''}"
        )  # type: ignore[index]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
