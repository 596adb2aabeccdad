"""The sensors: ``repo_discovery_sensor`` (below) keeps the repository partitions in step with
the configuration; ``ast_change_sensor`` (:mod:`snake_pipe_dagster.change_sensor`) turns the
file watcher's changes into incremental runs.

Every configured repository (each immediate subfolder of a ``repo_roots`` entry, and every
``[[repos]]`` table) becomes a partition keyed by its slug. A repository that leaves the
configuration loses its partition, so backfills stop asking for it, but nothing of its
history is deleted: its rows stay in the store (``deleted`` is a state the engine sets only
for files gone from disk), and Dagster keeps its materializations and check results, which
show again if the repository comes back. Discovery never opens the store.
"""

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from snake_pipe_core.config import LimitSettings

from .change_sensor import ast_change_sensor
from .errors import engine_errors
from .partitions import repo_partitions
from .resources import SnakePipeResource

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_DISCOVERY_INTERVAL_S",
    "DISCOVERY_INTERVAL_ENV",
    "MAX_CHANGES_PER_TICK",
    "PartitionPlan",
    "ast_change_sensor",
    "discovery_interval_seconds",
    "plan_partitions",
    "repo_discovery_sensor",
]

# Keys per add/delete request; requests are applied one after another by the daemon.
CHUNK_SIZE = 500
# Keys changed per tick; the rest wait for the next tick, so one tick stays short.
MAX_CHANGES_PER_TICK = 5000
# Seconds between ticks; read when the code location loads (tests and demos shorten it).
DISCOVERY_INTERVAL_ENV = "SNAKE_PIPE_DISCOVERY_INTERVAL_S"
DEFAULT_DISCOVERY_INTERVAL_S = 30


def discovery_interval_seconds(env: dict[str, str] | None = None) -> int:
    """The sensor's minimum interval: ``$SNAKE_PIPE_DISCOVERY_INTERVAL_S``, default 30 s."""
    raw = (os.environ if env is None else env).get(DISCOVERY_INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_DISCOVERY_INTERVAL_S
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds < 1:
        # Loud on purpose: the code location fails to load and the UI shows this message.
        raise ValueError(
            f"{DISCOVERY_INTERVAL_ENV} must be a whole number of seconds >= 1, got {raw!r}"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    """What one tick changes: keys to add and to retire, and what it leaves for later."""

    add: list[str]
    retire: list[str]
    deferred: int = 0
    held_back: list[str] = field(default_factory=list)
    hold_reason: str | None = None


def plan_partitions(
    configured: Collection[str],
    existing: Collection[str],
    *,
    missing_roots: Sequence[Path] = (),
    limits: LimitSettings | None = None,
    max_changes: int = MAX_CHANGES_PER_TICK,
) -> PartitionPlan:
    """Compare configured repositories with existing partitions.

    Retirements are held back when a configured root is missing (an unmounted disk would
    make all its repositories look removed) or when they would retire a large share of the
    partitions, by the same rule the engine uses before marking files deleted.
    """
    limits = limits or LimitSettings()
    existing_set = set(existing)
    to_add = sorted(set(configured) - existing_set)
    to_retire = sorted(existing_set - set(configured))
    hold_reason = None
    if to_retire and missing_roots:
        hold_reason = "repository root(s) missing: " + ", ".join(map(str, missing_roots))
    elif (
        to_retire
        and len(existing_set) >= limits.mass_delete_min_files
        and len(to_retire) >= limits.mass_delete_threshold * len(existing_set)
    ):
        hold_reason = (
            f"{len(to_retire)} of {len(existing_set)} repositories left the configuration at "
            "once; delete their partitions in the UI if that was intended"
        )
    held_back = to_retire if hold_reason else []
    if hold_reason:
        to_retire = []
    add = to_add[:max_changes]
    retire = to_retire[: max(0, max_changes - len(add))]
    deferred = len(to_add) - len(add) + len(to_retire) - len(retire)
    return PartitionPlan(add, retire, deferred, held_back, hold_reason)


def _chunks(keys: list[str], size: int = CHUNK_SIZE) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


@dg.sensor(
    name="repo_discovery_sensor",
    minimum_interval_seconds=discovery_interval_seconds(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for every configured repository and retires the partitions "
    "of repositories removed from the configuration (their history stays).",
)
def repo_discovery_sensor(
    context: dg.SensorEvaluationContext, snake_pipe: SnakePipeResource
) -> dg.SensorResult | dg.SkipReason:
    """Adds and retires repository partitions in chunks."""
    with engine_errors():
        settings = snake_pipe.settings()
        configured = settings.repositories()
    existing = context.instance.get_dynamic_partitions(repo_partitions.name)  # type: ignore[arg-type]
    plan = plan_partitions(
        configured,
        existing,
        missing_roots=[r for r in settings.repo_roots if not r.is_dir()],
        limits=settings.limits,
    )
    if plan.hold_reason:
        context.log.warning(
            f"not retiring {len(plan.held_back)} partition(s) "
            f"({', '.join(plan.held_back[:10])}…): {plan.hold_reason}"
        )
    if not plan.add and not plan.retire:
        return dg.SkipReason(
            f"{len(configured)} configured repositories, all partitions in place"
            + (f"; {plan.hold_reason}" if plan.hold_reason else "")
        )
    context.log.info(
        f"adding {len(plan.add)} and retiring {len(plan.retire)} repository partitions"
        + (f"; {plan.deferred} left for the next tick" if plan.deferred else "")
    )
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = [
        repo_partitions.build_add_request(chunk) for chunk in _chunks(plan.add)
    ]
    requests += [repo_partitions.build_delete_request(chunk) for chunk in _chunks(plan.retire)]
    return dg.SensorResult(dynamic_partitions_requests=requests)
