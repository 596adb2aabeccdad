"""The mass-delete guard: a run that looks at a vanished root marks nothing deleted.

Its rules are in :mod:`~snake_pipe_core.guard.rules`; what it remembers (where each root was,
the refusals that stand) in :mod:`~snake_pipe_core.guard.state`. ``ingest_repository`` holds a
:class:`MassDeleteGuard` for each run and asks it three times: for the root (before anything
is written), before the walk (the mount, an empty root) and after it (the whole diff). A
refusal raises :class:`~snake_pipe_core.errors.MassDeletionRefused` (or
:class:`~snake_pipe_core.errors.RepositoryUnavailable` for a root that cannot be used) and
stands in the guard's state, where ``snake-pipe status``, ``snake-pipe watch --status``, the
journal's consumer (which tries again with back-off) and the Dagster asset check see it,
until a run succeeds or a person confirms the deletions.
"""

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from ..config import LimitSettings
from ..errors import MassDeletionRefused, RepositoryUnavailable
from ..ingest.discovery import Rules, check_root
from .mounts import RootIdentity, root_identity
from .rules import Verdict, judge_diff, judge_empty, judge_mount, judge_rules
from .state import GUARD_FILE, GuardState, RecordedRoot, Refusal

__all__ = [
    "GUARD_FILE",
    "GuardState",
    "MassDeleteGuard",
    "RecordedRoot",
    "Refusal",
    "RootIdentity",
    "Verdict",
    "judge_diff",
    "judge_empty",
    "judge_mount",
    "judge_rules",
    "root_identity",
]

log = logging.getLogger(__name__)
# Folders the watcher's self-check makes and removes at once: not content.
_COOKIE_PREFIX = ".snake_pipe-cookie-"


class MassDeleteGuard:
    """The guard of one run of one repository.

    Args:
        state_folder: where the guard's state is (the store's folder).
        limits: ``mass_delete_threshold`` and ``mass_delete_min_files``.
        allow: a person confirmed the deletions: only a root that cannot be used is refused.
    """

    def __init__(self, state_folder: str | Path, limits: LimitSettings, *, allow: bool) -> None:
        self.state = GuardState(state_folder)
        self.limits = limits
        self.allow = allow
        self.identity: RootIdentity | None = None

    def check_root(self, root: str, repo: str | None) -> str:
        """The real path of a usable root; a missing, non-folder or unreadable one is refused
        (recorded, then ``RepositoryUnavailable`` is raised)."""
        try:
            return check_root(root)
        except RepositoryUnavailable as e:
            self._record(repo or Path(os.path.realpath(root)).name, Verdict("unavailable", str(e)))
            raise

    def before_walk(self, repo: str, root: str, *, known_live: int | None) -> None:
        """The mount and an empty root. ``known_live``: the repository's live files in the
        store, when the run loaded them all (a run of some paths did not: the count the last
        successful run recorded stands in)."""
        self.identity = root_identity(root)
        if self.allow:
            return
        recorded = self._recorded(repo)
        if known_live is None:
            known_live = recorded.live_files if recorded is not None else 0
        verdict = judge_mount(
            root, self.identity, recorded.identity if recorded else None, known_live
        ) or judge_empty(root, _is_empty(root), known_live, self.limits)
        if verdict is not None:
            self._refuse(repo, verdict)

    def check_rules(
        self, repo: str, root: str, known: Iterable[tuple[str, str]], rules: Rules
    ) -> None:
        """Before the walk: refuse rules that would exclude most of the files the store holds
        (``known``: the stored path and state of each live file the run loaded)."""
        if self.allow:
            return
        live = 0
        excluded: Counter[str] = Counter()
        folders: dict[str, str | None] = {}
        for path, state in known:
            if state == "excluded":
                continue
            live += 1
            rule = _excluded_by(rules, path, folders)
            if rule is not None:
                excluded[rule] += 1
        verdict = judge_rules(root, known_live=live, excluded=dict(excluded), limits=self.limits)
        if verdict is not None:
            self._refuse(repo, verdict)

    def after_walk(
        self,
        repo: str,
        root: str,
        *,
        live_before: int,
        gone: int,
        fresh: int,
        fresh_since: Callable[[float], int],
    ) -> None:
        """The whole diff of a whole-repository run. ``fresh``: this run's new and changed
        files; ``fresh_since(t)``: the live files the store got a new version of since unix
        time ``t`` (asked only of a diff that looks vanished, for what earlier runs that did
        not succeed committed since the last one that did)."""
        if self.allow or not gone:
            return
        verdict = judge_diff(root, live_before=live_before, gone=gone, fresh=fresh,
                             limits=self.limits)  # fmt: skip
        recorded = self._recorded(repo) if verdict is not None else None
        if verdict is not None and recorded is not None:
            fresh = max(fresh, fresh_since(recorded.recorded_at))
            verdict = judge_diff(root, live_before=live_before, gone=gone, fresh=fresh,
                                 limits=self.limits)  # fmt: skip
        if verdict is not None:
            self._refuse(repo, verdict)

    def succeeded(self, repo: str, live_files: int, *, whole: bool) -> None:
        """The run committed: remember where the root is and the live files the store holds,
        and let the refusals it answers go (see :meth:`GuardState.succeeded`)."""
        if self.identity is None:
            return
        try:
            self.state.succeeded(repo, self.identity, live_files, whole=whole)
        except Exception as e:  # the run's result matters more than the guard's memory
            log.warning("could not record the run of %s in the guard's state: %s", repo, e)

    def _recorded(self, repo: str) -> RecordedRoot | None:
        try:
            return self.state.root(repo)
        except Exception as e:
            log.warning("cannot read the guard's state %s: %s", self.state.path, e)
            return None

    def _refuse(self, repo: str, verdict: Verdict) -> None:
        self._record(repo, verdict)
        raise MassDeletionRefused(verdict.message(repo))

    def _record(self, repo: str, verdict: Verdict) -> None:
        try:
            self.state.refuse(repo, verdict.kind, verdict.detail)
        except Exception as e:  # the refusal itself stands, recorded or not
            log.warning("could not record the refusal of %s: %s", repo, e)


def _excluded_by(rules: Rules, path: str, folders: dict[str, str | None]) -> str | None:
    """The rule that would exclude or prune a stored path, named for a person."""
    folder, _, name = path.rpartition("/")
    if folder:
        if folder not in folders:
            folders[folder] = _pruned_by(rules, folder)
        if folders[folder] is not None:
            return folders[folder]
    rule = rules.exclusion(name, path)
    if rule == "not-included":
        patterns = [*rules.include.name_patterns, *rules.include.path_patterns]
        return f"include = {patterns} (matching none of them)"
    return rule


def _pruned_by(rules: Rules, folder: str) -> str | None:
    parts = folder.split("/")
    for i, part in enumerate(parts):
        if part in rules.pruned:
            return f"pruned-dir:{part}"
        rule = rules.exclude_dirs.match(part, "/".join(parts[: i + 1]))
        if rule is not None:
            return rule
    return None


def _is_empty(root: str) -> bool:
    try:
        with os.scandir(root) as it:
            return not any(not e.name.startswith(_COOKIE_PREFIX) for e in it)
    except OSError:
        return False  # check_root decided it is readable; a race is the walk's to see
