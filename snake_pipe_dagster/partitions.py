"""Repositories as partitions: one dynamic partition per repository, keyed by its slug."""

import dagster as dg

__all__ = ["REPO_PARTITIONS_NAME", "repo_partitions"]

REPO_PARTITIONS_NAME = "repos"

# Keys are the engine's stable ASCII slugs (``snake_pipe_core.slugify``), never paths, so a
# repository keeps its history when its folder moves.
repo_partitions = dg.DynamicPartitionsDefinition(name=REPO_PARTITIONS_NAME)
