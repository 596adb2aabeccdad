"""Discovery: a stat-only walk of one repository, with include/exclude rules.

The walk uses ``os.scandir`` with an explicit stack (no recursion), prunes excluded folders
before descending, never follows a symlink out of the root, and never opens a file: what it
learns is the path, size and mtime, or — when the walk alone knows the outcome — the rule
that excludes the file or the problem that quarantines it (dangling or looping symlink,
FIFO…). Folders it cannot read are reported so that their files are not taken for deleted.
"""

import errno
import fnmatch
import logging
import os
import re
import stat
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field

from ..config import DiscoverySettings
from ..errors import RepositoryUnavailable
from ..models import Reason, ScanEntry

__all__ = ["Rules", "Walk", "check_root", "covering_paths", "storage_path"]

log = logging.getLogger(__name__)


def storage_path(path: str) -> str:
    """The stored form of a relative path: itself, unless the OS name is not valid UTF-8, in
    which case undecodable bytes are written ``\\xNN`` (DuckDB text must be UTF-8)."""
    if path.isascii():
        return path
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def _alternatives(patterns: tuple[str, ...]) -> str:
    return "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile(_alternatives(patterns)) if patterns else None


class _NameMatcher:
    """Whether a name matches any of some glob patterns (as ``fnmatch.fnmatchcase`` does).

    Every file's name is tested against every rule, and nearly all of the rules are an exact
    name (``package.json``), ``*`` and a suffix (``*.swp``) or a prefix and ``*`` (``.#*``):
    a set and one ``endswith`` and one ``startswith`` decide those, and a regular expression
    the rest. The default exclusions: 0.32 µs a name against 0.53 µs for one expression of
    them, whose ``.*`` alternatives are each tried along the whole name; a file's whole rule
    check 1.35 -> 0.80 µs."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        exact: set[str] = set()
        suffixes: list[str] = []
        prefixes: list[str] = []
        other: list[str] = []
        for p in patterns:
            wild = [i for i, c in enumerate(p) if c in "*?["]
            if not wild:
                exact.add(p)
            elif wild == [0] and p[0] == "*":
                suffixes.append(p[1:])
            elif wild == [len(p) - 1] and p[-1] == "*":
                prefixes.append(p[:-1])
            else:
                other.append(p)
        self.exact = frozenset(exact)
        self.suffixes = tuple(suffixes)
        self.prefixes = tuple(prefixes)
        self.other = _compile(tuple(other))

    def __call__(self, name: str) -> bool:
        return (
            name in self.exact
            or name.endswith(self.suffixes)
            or name.startswith(self.prefixes)
            or (self.other is not None and self.other.match(name) is not None)
        )


class _PatternSet:
    """Glob patterns matched against a name (no ``/`` in the pattern) or a relative path."""

    def __init__(self, label: str, patterns: tuple[str, ...]) -> None:
        self.label = label
        self.name_patterns = tuple(p for p in patterns if "/" not in p)
        self.path_patterns = tuple(p.lstrip("/") for p in patterns if "/" in p)
        self._names = _NameMatcher(self.name_patterns)
        self._paths = _compile(self.path_patterns)

    def matches(self, name: str, rel: str) -> bool:
        return self._names(name) or (self._paths is not None and self._paths.match(rel) is not None)

    def match(self, name: str, rel: str) -> str | None:
        """The rule that matches, as ``label:pattern``, or None."""
        if self._names(name):
            hit = next(p for p in self.name_patterns if fnmatch.fnmatchcase(name, p))
            return f"{self.label}:{hit}"
        if self._paths is not None and self._paths.match(rel):
            hit = next(p for p in self.path_patterns if fnmatch.fnmatchcase(rel, p))
            return f"{self.label}:{hit}"
        return None


class Rules:
    """Which folders are pruned and which files are excluded, and by which rule."""

    def __init__(self, settings: DiscoverySettings) -> None:
        self.pruned = frozenset(settings.pruned_dirs)
        self.exclude_dirs = _PatternSet("exclude-dir", settings.exclude_dirs)
        self.excluded = [
            _PatternSet("editor-temp", settings.editor_temp),
            _PatternSet("non-ast-json", settings.non_ast_json),
            _PatternSet("exclude", settings.exclude),
        ]
        self.include = _PatternSet("include", settings.include)
        # Every exclusion at once: one test per file, the usual case being "no rule"; which
        # rule it was is looked up only for the files it excludes.
        self._any_excluded = _PatternSet(
            "excluded",
            (*settings.editor_temp, *settings.non_ast_json, *settings.exclude),
        )

    def prune(self, name: str, rel: str) -> bool:
        return name in self.pruned or self.exclude_dirs.match(name, rel) is not None

    def exclusion(self, name: str, rel: str) -> str | None:
        """The rule excluding this file, or None if it is to be analysed."""
        if self._any_excluded.matches(name, rel):
            for patterns in self.excluded:
                rule = patterns.match(name, rel)
                if rule is not None:
                    return rule
        if not self.include.matches(name, rel):
            return "not-included"
        return None


def check_root(root: str) -> str:
    """The real path of a usable repository root; raise RepositoryUnavailable if it is not."""
    if not os.path.lexists(root):
        raise RepositoryUnavailable(f"repository root {root!r} does not exist (not mounted?)")
    if not os.path.isdir(root):
        raise RepositoryUnavailable(f"repository root {root!r} is not a directory")
    try:
        with os.scandir(root) as it:
            next(it, None)
    except OSError as e:
        raise RepositoryUnavailable(f"repository root {root!r} cannot be read: {e.strerror}") from e
    return os.path.realpath(root)


@dataclass
class Walk:
    """One walk of a repository. Iterate ``entries()``; afterwards ``unreadable_dirs`` holds
    relative folders that could not be listed (their files must not be taken for deleted).

    ``subpaths`` limits the walk to these files and folders (relative to the root), as a file
    watcher reports them; None walks everything.
    """

    root: str
    rules: Rules
    subpaths: tuple[str, ...] | None = None
    # Stored paths (:func:`storage_path`) the manifest holds. A regular file that is not
    # among them, and that no rule excludes, is yielded as its bare relative path (a
    # ``str``), without a stat or an object of its own: a new file is read anyway, and the
    # read's ``fstat`` gives its size and mtime. On a first ingest that is a system call and
    # several microseconds of the coordinating process less per file.
    known: Container[str] | None = None
    # Asked, with its stored path, size and mtime, about each regular file among ``known``
    # that no rule excludes: True means the file is unchanged, and the walk only counts it
    # (``unchanged_files``) instead of yielding an entry for the diff to compare. A no-op
    # run of 1,000,000 files is mostly such files: 2 µs each less.
    unchanged: Callable[[str, int, int], bool] | None = None
    unchanged_files: int = 0
    unreadable_dirs: list[str] = field(default_factory=list)
    dirs_walked: int = 0

    def __post_init__(self) -> None:
        if self.subpaths is not None:
            self.subpaths = tuple(
                covering_paths(p for p in map(_normalise, self.subpaths) if p is not None)
            )

    def entries(self) -> Iterator[ScanEntry | str]:
        """Every file under the walked paths, in no particular order: a :class:`ScanEntry`,
        or a new file's relative path (see ``known``)."""
        root = check_root(self.root)
        prefix = root + os.sep
        stack: list[str] = []
        if self.subpaths is None:
            stack.append("")
        else:
            yield from self._subpath_entries(root, prefix, stack)
        yield from self._walk(root, prefix, stack)

    def _subpath_entries(self, root: str, prefix: str, stack: list[str]) -> Iterator[ScanEntry]:
        """The files among ``subpaths``; their folders go on ``stack``, to be walked."""
        for rel in self.subpaths or ():
            parts = rel.split("/")
            if any(
                self.rules.prune(part, "/".join(parts[: i + 1]))
                for i, part in enumerate(parts[:-1])
            ):
                continue
            if _through_link(root, parts):
                continue  # a full walk does not go there either: not followed
            full = os.path.join(root, rel)
            try:
                st = os.lstat(full)
            except OSError:
                continue  # gone: the diff marks what the manifest had there as deleted
            if stat.S_ISDIR(st.st_mode):
                if not self.rules.prune(parts[-1], rel):
                    stack.append(rel)
            else:
                yield self._classify(rel, parts[-1], full, st, prefix)

    def _walk(self, root: str, prefix: str, stack: list[str]) -> Iterator[ScanEntry | str]:
        while stack:
            rel_dir = stack.pop()
            try:
                it = os.scandir(os.path.join(root, rel_dir) if rel_dir else root)
            except OSError as e:
                if not rel_dir:
                    raise RepositoryUnavailable(f"repository root {root!r}: {e.strerror}") from e
                log.warning("cannot list %s: %s; its files are kept as they were", rel_dir, e)
                self.unreadable_dirs.append(rel_dir)
                continue
            self.dirs_walked += 1
            known, unchanged, exclusion = self.known, self.unchanged, self.rules.exclusion
            with it:
                for entry in it:
                    name = entry.name
                    rel = f"{rel_dir}/{name}" if rel_dir else name
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if not self.rules.prune(name, rel):
                                stack.append(rel)
                            continue
                        key = None
                        # d_type: no syscall
                        if known is not None and entry.is_file(follow_symlinks=False):
                            key = rel if rel.isascii() else storage_path(rel)
                            if key not in known and exclusion(name, rel) is None:
                                yield rel
                                continue
                        st = entry.stat(follow_symlinks=False)
                        if (
                            key is not None
                            and unchanged is not None
                            and stat.S_ISREG(st.st_mode)
                            and exclusion(name, rel) is None
                            and unchanged(key, st.st_size, st.st_mtime_ns)
                        ):
                            self.unchanged_files += 1
                            continue
                    except OSError as e:
                        log.warning("cannot stat %s: %s", rel, e)
                        continue  # vanished between listing and stat
                    yield self._classify(rel, name, entry.path, st, prefix)

    def _classify(
        self, rel: str, name: str, full: str, st: os.stat_result, prefix: str
    ) -> ScanEntry:
        rule = self.rules.exclusion(name, rel)
        if rule is not None:
            return ScanEntry(rel, st.st_size, st.st_mtime_ns, excluded_by=rule)
        if stat.S_ISLNK(st.st_mode):
            return self._symlink(full, rel, st, prefix)
        if not stat.S_ISREG(st.st_mode):
            return _problem(rel, st, Reason.NOT_REGULAR_FILE, _kind(st.st_mode))
        return ScanEntry(rel, st.st_size, st.st_mtime_ns, dev=st.st_dev, ino=st.st_ino)

    @staticmethod
    def _symlink(full: str, rel: str, lst: os.stat_result, prefix: str) -> ScanEntry:
        try:
            target = os.readlink(full)
        except OSError:
            target = "?"
        try:
            st = os.stat(full)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return _problem(rel, lst, Reason.SYMLINK_LOOP, f"symlink loop via {target!r}")
            if e.errno == errno.ENOENT:
                return _problem(rel, lst, Reason.DANGLING_SYMLINK, f"target {target!r} is missing")
            return _problem(rel, lst, Reason.UNREADABLE, f"symlink target: {e.strerror}")
        real = os.path.realpath(full)
        if not (real + os.sep).startswith(prefix):  # the root itself is inside
            return _problem(rel, lst, Reason.OUTSIDE_ROOT, f"points outside the repository: {real}")
        if stat.S_ISDIR(st.st_mode):
            # Not followed: its files are discovered under their real path inside the root.
            return ScanEntry(rel, lst.st_size, lst.st_mtime_ns, excluded_by="symlink-to-directory")
        if not stat.S_ISREG(st.st_mode):
            return _problem(rel, st, Reason.NOT_REGULAR_FILE, f"symlink to a {_kind(st.st_mode)}")
        return ScanEntry(rel, st.st_size, st.st_mtime_ns, dev=st.st_dev, ino=st.st_ino)


def _through_link(root: str, parts: list[str]) -> bool:
    """Whether a folder on the path is a symlink (or not a folder): ``lstat`` of the whole
    path would follow it, maybe out of the root."""
    path = root
    for part in parts[:-1]:
        path = os.path.join(path, part)
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return True
        except OSError:
            return True
    return False


def _normalise(path: str) -> str | None:
    """A relative path inside the root, or None for one that would leave it."""
    parts = [p for p in path.replace(os.sep, "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def covering_paths(paths: Iterable[str]) -> list[str]:
    """The distinct paths that are not under another of the given paths: walking a folder
    covers everything below it, and no file may be walked twice."""
    kept: list[str] = []
    # Sorted by components, a folder comes right before everything under it.
    for p in sorted(set(paths), key=lambda p: p.split("/")):
        if not kept or not (p == kept[-1] or p.startswith(kept[-1] + "/")):
            kept.append(p)
    return kept


def _problem(rel: str, st: os.stat_result, reason: Reason, detail: str) -> ScanEntry:
    return ScanEntry(rel, st.st_size, st.st_mtime_ns, problem=reason, problem_detail=detail)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"
