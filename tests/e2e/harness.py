"""A real ``dagster dev`` (webserver + daemon + code server) for end-to-end tests.

Started in its own session so that one signal reaches the whole process group (webserver,
daemon, code server and run workers), on 127.0.0.1 and a free port, with a temporary
DAGSTER_HOME holding the project's dagster.yaml. Driven through GraphQL with the standard
library only. It imports nothing from pytest, so ``bench/`` uses it too.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ROOT", "DagsterDev", "GraphQLError", "free_port", "graphql", "wait_for"]

ROOT = Path(__file__).resolve().parents[2]  # the project: workspace.yaml, dagster.yaml

T = TypeVar("T")


class GraphQLError(RuntimeError):
    """The server answered with GraphQL errors."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a GraphQL query to a Dagster webserver at ``url``; its ``data``, or GraphQLError."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    if payload.get("errors"):
        raise GraphQLError(json.dumps(payload["errors"])[:2000])
    return payload["data"]  # type: ignore[no-any-return]


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float, every: float = 1.0) -> T:
    """Call ``probe`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (OSError, GraphQLError) as e:  # not up yet, or not loaded yet
            last_error = e
        else:
            if value is not None and value is not False:
                return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last_error})")


@dataclass
class DagsterDev:
    """``dagster dev`` for one test module: ``start()``, use, ``stop()``."""

    home: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path = self.home / "dagster-dev.log"
        dagster = Path(sys.executable).with_name("dagster")
        log = self.log_path.open("wb")
        with _interrupts_not_ignored():
            self.process = subprocess.Popen(
                [
                    str(dagster),
                    "dev",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-w",
                    str(ROOT / "workspace.yaml"),
                ],
                cwd=self.home,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        log.close()  # the child holds its own copy

    def _environment(self) -> dict[str, str]:
        # The developer's own snake-pipe settings must not leak into the test's deployment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKE_PIPE_")}
        return {**env, **self.env, "DAGSTER_HOME": str(self.home)}

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.url, query, variables)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, grace: float = 30.0) -> int | None:
        """SIGTERM to the whole process group, then SIGKILL what is left after ``grace``."""
        if self.process is None:
            return None
        pgid = self.process.pid  # the session leader: its pid is the group id
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # Children may outlive the leader for a moment; give them the same grace, then kill.
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        return self.process.returncode


@contextmanager
def _interrupts_not_ignored() -> Iterator[None]:
    """Dagster maps SIGTERM to its SIGINT handler. A process started from a background job
    inherits SIGINT *ignored* and would then ignore SIGTERM too, so while the child is
    spawned SIGINT gets a handler here (exec resets handled signals to their defaults)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
