"""The multi-host deployment profile on one machine: ``deploy/multihost/`` as a user runs it.

- PostgreSQL (Debian's): Dagster's instance storage (database ``dagster``) and the store's
  DuckLake catalog (database ``snake``);
- Redis (Debian's): the Celery broker and result backend;
- a "daemon host": ``dagster-webserver`` and ``dagster-daemon`` with the profile's
  ``dagster.yaml`` (run queue, Celery run launcher, run monitoring and retries);
- "worker hosts": ``dagster-celery worker start`` processes, each with a working directory,
  DAGSTER_HOME and environment of its own (``SNAKE_PIPE_HOST`` names it in the store);
- a shared folder standing in for shared storage: the repositories and the store's Parquet
  files.

The hosts share nothing but PostgreSQL, Redis and the shared folder. Nothing here imports
pytest.
"""

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import ROOT, free_port, graphql, wait_for
from tests.services import Postgres, Redis

__all__ = ["PROFILE", "Cluster", "Host"]

PROFILE = ROOT / "deploy" / "multihost"
BIN = Path(sys.executable).parent


@dataclass
class Host:
    """One stand-in host: a folder (working directory and DAGSTER_HOME) and its processes."""

    name: str
    folder: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, what: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{what}.log").open("ab")
        proc = subprocess.Popen(
            command,
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one signal reaches the process and its children
        )
        log.close()
        self.processes[what] = proc
        return proc

    def kill(self, what: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes[what]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(60)

    def stop_all(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever the group left behind
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                proc.wait(10)

    def log(self, what: str, lines: int = 40) -> str:
        path = self.folder / f"{what}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    base: Path
    pg: Postgres
    redis: Redis
    config: Path
    shared: Path
    hosts: dict[str, Host] = field(default_factory=dict)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> str:
        return f"ducklake:postgres:{self.pg.dsn('snake')}"

    def host(self, name: str) -> Host:
        folder = self.base / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROFILE / "dagster.yaml", folder / "dagster.yaml")
        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SNAKE_PIPE_", "DAGSTER_"))}  # fmt: skip
        env = {
            **base_env,
            "DAGSTER_HOME": str(folder),
            "DAGSTER_PG_URL": self.pg.url("dagster"),
            "SNAKE_PIPE_CELERY_BROKER": f"redis://{self.redis.host}:{self.redis.port}/0",
            "SNAKE_PIPE_CELERY_BACKEND": f"redis://{self.redis.host}:{self.redis.port}/1",
            "SNAKE_PIPE_CONFIG": str(self.config),
            "SNAKE_PIPE_HOST": name,
            "SNAKE_PIPE_DISCOVERY_INTERVAL_S": "5",
            "DAGSTER_TELEMETRY_DISABLED": "1",
            "PYTHONUNBUFFERED": "1",
            # dagster-celery starts `celery` from the PATH, as in an activated virtualenv
            "PATH": f"{BIN}{os.pathsep}{base_env.get('PATH', '')}",
        }
        host = Host(name, folder, env)
        self.hosts[name] = host
        return host

    def start_daemon_host(self) -> Host:
        host = self.host("daemon-host")
        workspace = str(PROFILE / "workspace.yaml")
        # Once, before anything else uses it: create the instance's tables (the README's step;
        # the webserver and the daemon creating them at once race).
        subprocess.run([str(BIN / "dagster"), "instance", "migrate"], cwd=host.folder,
                       env=host.env, check=True, capture_output=True, timeout=300)  # fmt: skip
        host.start("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1",
                                 "-p", str(self.port), "-w", workspace])  # fmt: skip
        host.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])
        return host

    def start_worker(self, name: str) -> Host:
        host = self.hosts.get(name) or self.host(name)
        host.start("worker", [
            str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
            "-y", str(PROFILE / "celery.yaml"), "-q", "dagster", "-n", name,
            "--", "--concurrency=1",
        ])  # fmt: skip
        return host

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.url, query, variables)

    def wait_for_workers(self, names: list[str], timeout: float = 120) -> None:
        """Until every named worker answers a Celery ping through the broker."""
        from celery import Celery

        app = Celery(broker=self.hosts[names[0]].env["SNAKE_PIPE_CELERY_BROKER"])

        def answered() -> bool:
            replies = app.control.ping(timeout=1.0) or []
            seen = {name.split("@")[0] for reply in replies for name in reply}
            return set(names) <= seen

        wait_for("the Celery workers to answer", answered, timeout=timeout, every=1)

    def stop(self) -> None:
        for host in self.hosts.values():
            host.stop_all()

    def logs(self) -> str:
        return "\n".join(
            f"--- {host.name}/{what} ---\n{host.log(what)}"
            for host in self.hosts.values()
            for what in host.processes
        )
