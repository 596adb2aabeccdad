"""snake-pipe's orchestration layer: when to ingest which repository, and what happened.

The work is the engine's (:mod:`snake_pipe_core`); this package only adapts it to Dagster:
one dynamic partition per repository, one asset step per ingest, checks on the store, a
sensor that keeps the partitions in step with the configuration, a sensor that turns the
file watcher's change journal into incremental runs, a nightly full re-analysis and an
hourly reconciliation.
``snake_pipe_dagster.definitions.defs`` is the one ``Definitions`` object.
"""

__all__: list[str] = []
