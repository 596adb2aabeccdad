"""The mass-delete guard's rules: does this run look at a vanished root?

A run marks deleted what the store holds and the disk no longer shows. When the root itself
has gone (a disk unmounted, a share down, a folder unreadable), every file looks deleted, and
the store would be emptied by a glitch. So a run is refused, and nothing is marked deleted,
when its root looks vanished:

- **unavailable**: missing, not a folder, or unreadable (raised by discovery's ``check_root``);
- **mount**: on another mount than when it was last ingested (an unmounted disk leaves its
  empty mount point, on the file system below);
- **empty**: not one entry, while the store holds at least ``mass_delete_min_files`` of it;
- **vanished**: a whole-repository diff finds most files gone (``mass_delete_threshold`` of
  them) *and nothing new beside them*: fewer files new or changed since the last run that
  succeeded than that share of the gone ones;
- **excluded**: the run's include/exclude rules would exclude (or prune) that share of the
  files the store holds as extracted or quarantined: a typo such as ``include = ["*.jsn"]``
  empties the views as surely as a vanished root. Judged before the walk, from the known
  paths alone, so nothing is written.

The last rule judges the diff as a whole, never deleted over known files alone: a branch
switch (``git checkout``) deletes most files and writes as many new ones, a folder renamed
deletes its old paths and adds as many new ones, and both are what they look like. A tree
that shrank by most of its files with nothing to replace them is what a vanished root looks
like. The first three rules hold for every run, a run of a few paths included; the last needs
the whole diff, so only whole-repository runs apply it.
"""

from dataclasses import dataclass

from ..config import LimitSettings
from .mounts import RootIdentity

__all__ = ["Verdict", "judge_diff", "judge_empty", "judge_mount", "judge_rules"]

CONFIRM_HINT = (
    "Nothing was marked deleted. If the files really were removed, confirm: "
    "`snake-pipe ingest --allow-mass-delete`, `snake-pipe watch --confirm-deletions REPO`, "
    "or run config `allow_mass_delete: true`"
)


RULES_HINT = (
    "Nothing was marked excluded. If the rules are meant, confirm: "
    "`snake-pipe ingest --allow-mass-delete`, `snake-pipe watch --confirm-deletions REPO`, "
    "or run config `allow_mass_delete: true`"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a run is refused: a ``kind`` (see the module docstring) and what was judged."""

    kind: str
    detail: str

    def message(self, repo: str) -> str:
        hint = RULES_HINT if self.kind == "excluded" else CONFIRM_HINT
        return f"repository {repo!r}: {self.detail}. {hint}"


def judge_mount(
    root: str, now: RootIdentity, recorded: RootIdentity | None, known_live: int
) -> Verdict | None:
    """Refuse a root on another mount than recorded, while the store holds files of it."""
    if recorded is None or known_live <= 0 or now.same_place(recorded):
        return None
    return Verdict(
        "mount",
        f"its root {root} is on {now.describe()}, not on {recorded.describe()} where it was "
        f"last ingested ({known_live} live files): is the disk unmounted?",
    )


def judge_empty(root: str, empty: bool, known_live: int, limits: LimitSettings) -> Verdict | None:
    """Refuse an empty root while the store holds at least ``mass_delete_min_files`` of it."""
    if not empty or known_live < max(1, limits.mass_delete_min_files):
        return None
    return Verdict(
        "empty",
        f"its root {root} is empty, while the store holds {known_live} live files of it: "
        "is it unmounted or emptied?",
    )


def judge_diff(
    root: str, *, live_before: int, gone: int, fresh: int, limits: LimitSettings
) -> Verdict | None:
    """Refuse a whole-repository diff that finds most files gone and nothing in their place.

    ``fresh``: the files new or changed since the last run that succeeded, this run's
    included. (Not this run's alone: a run killed after committing a new branch's files leaves
    them for its retry to find unchanged, beside the old branch's files gone.)"""
    t = limits.mass_delete_threshold
    if live_before < limits.mass_delete_min_files or gone < t * live_before:
        return None
    if fresh >= t * gone:
        return None  # replaced, not vanished: a branch switch, a folder renamed
    return Verdict(
        "vanished",
        f"{gone} of {live_before} files are gone from {root} with {fresh} new or changed "
        "beside them: is it unmounted or emptied?",
    )


def judge_rules(
    root: str, *, known_live: int, excluded: dict[str, int], limits: LimitSettings
) -> Verdict | None:
    """Refuse rules that would exclude most of the files the store holds of a repository.

    ``excluded``: how many of the ``known_live`` files (extracted or quarantined) each rule
    would exclude or prune."""
    total = sum(excluded.values())
    t = limits.mass_delete_threshold
    if known_live < max(1, limits.mass_delete_min_files) or total < t * known_live:
        return None
    named = ", ".join(f"{rule} ({n})" for rule, n in
                      sorted(excluded.items(), key=lambda kv: -kv[1])[:3])  # fmt: skip
    return Verdict(
        "excluded",
        f"its rules would exclude {total} of the {known_live} files the store holds of {root}, "
        f"by {named}: is a pattern mistyped?",
    )
