"""One pass per file: read, hash, reuse, parse, detect the format, validate and measure.

Reading, hashing, parsing and walking a file is the cost of the whole system, so each file is
touched once and the result is a verdict — ``extracted`` with metadata, or ``quarantined``
with a reason code and a detail. A bad file is data, never an exception.

The native scanner (:mod:`.native`) validates and measures a document in one pass over its
bytes; whatever it is not sure of — every bad file included — goes through the Python path
(``orjson`` or our own parsers, then the format's walk), which stays the reference.
"""

import errno
import gc
import logging
import os
import stat
from collections.abc import Container
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..formats import (
    FormatProblem,
    FormatRegistry,
    GenericFormat,
    looks_like_envelope,
    open_envelope,
)
from ..hashes import NEW_STORE_HASH, KnownHashes, content_hasher
from ..languages import normalise_language
from ..models import AstMetadata, FileVerdict, Reason
from .beneath import Refused, open_beneath, root_descriptor
from .jsonload import JsonProblem, parse_json
from .native import NativeScanner, scanner_module

__all__ = ["AnalysisSettings", "Analyzer", "FileRead", "WorkItem"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """What a worker needs to analyse files; small and picklable."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_depth: int = 65_536
    generic_formats: tuple[dict[str, Any], ...] = ()
    # False for a full re-analysis: parse even when the content was analysed before.
    reuse: bool = True
    # False: the pure-Python path only (the reference), even where the native scanner is built.
    native: bool = True
    # The store's content hash (``hashes.CONTENT_HASHES``): a run passes what its store records.
    content_hash: str = NEW_STORE_HASH


class WorkItem(NamedTuple):
    """A file to analyse: its OS path relative to the root, its size, and the file discovery
    saw there (device and inode; 0: not known). (A tuple: chunks of them are pickled to
    workers.)"""

    path: str
    size: int
    dev: int = 0
    ino: int = 0


class FileRead(NamedTuple):
    """A file's bytes, read whole and unchanged while reading, and their content hash. (A tuple,
    as a verdict is: one a file.)"""

    path: str
    size: int
    mtime_ns: int
    data: bytes
    digest: bytes


class Analyzer:
    """Turns files into verdicts. One per process; holds the format registry."""

    def __init__(
        self, settings: AnalysisSettings, known_hashes: Container[bytes] = KnownHashes()
    ) -> None:
        self.settings = settings
        self._hash = content_hasher(settings.content_hash)
        extra = [
            GenericFormat(
                name=g["name"],
                type_key=g.get("type_key"),
                children_key=g.get("children_key"),
                root_types=frozenset(g["root_types"]) if g.get("root_types") else None,
                language=g.get("language"),
                function_types=frozenset(g.get("function_types", ())),
                class_types=frozenset(g.get("class_types", ())),
                import_types=frozenset(g.get("import_types", ())),
                branch_types=frozenset(g.get("branch_types", ())),
                priority=20,
            )
            for g in settings.generic_formats
        ]
        self.registry = FormatRegistry.default(extra)
        self.known_hashes = known_hashes
        self.native = (
            NativeScanner.for_registry(self.registry, settings.max_depth)
            if settings.native
            else None
        )
        # The native read (one openat2 beneath the root, fstat, read, fstat): with the scanner.
        module = scanner_module() if self.native is not None else None
        self._read_beneath = getattr(module, "read_beneath", None)

    def analyze_file(self, root: str, item: WorkItem) -> FileVerdict:
        """Analyse one file under ``root``; never raises for a bad file."""
        read = self.read_file(root, item)
        return read if isinstance(read, FileVerdict) else self.analyze_read(read)

    def read_file(self, root: str, item: WorkItem) -> FileVerdict | FileRead:
        """Read and hash one file, or the verdict when it cannot be read whole.

        The file is opened beneath the root without following a symlink out of it
        (:mod:`.beneath`), and must still be the file discovery saw: one swapped in since
        (a symlink moved over it, say) is not read."""
        if self._read_beneath is not None:
            try:
                got = self._read_beneath(
                    root_descriptor(root), item.path, self.settings.max_file_bytes
                )
            except OSError as e:
                return _quarantine(item.path, item.size, 0, None, Reason.UNREADABLE, str(e))
            if got is not None:
                data, mode, size, mtime, dev, ino, size_after, mtime_after = got
                return self._refusal(item, mode, size, mtime, dev, ino) or self._whole(
                    item, data, size, mtime, size_after, mtime_after
                )
            # The open failed (a symlink on the path, a file gone...): the walk below decides.
        try:
            fd = open_beneath(root, item.path)
        except Refused as r:
            size, mtime = _stat_of(root, item)
            return _quarantine(item.path, size, mtime, None, r.reason, r.detail)
        except OSError as e:
            return _open_failure(item, e, *_stat_of(root, item))
        try:
            before = os.fstat(fd)
            size, mtime = before.st_size, before.st_mtime_ns
            refusal = self._refusal(item, before.st_mode, size, mtime, before.st_dev, before.st_ino)
            if refusal is not None:
                return refusal
            data = _read_whole(fd, size)
            after = os.fstat(fd)
        except OSError as e:
            return _quarantine(item.path, item.size, 0, None, Reason.UNREADABLE, str(e))
        finally:
            os.close(fd)
        return self._whole(item, data, size, mtime, after.st_size, after.st_mtime_ns)

    def _refusal(
        self, item: WorkItem, mode: int, size: int, mtime: int, dev: int, ino: int
    ) -> FileVerdict | None:
        """Why an open file is not read (its ``fstat`` says so), if it is not."""
        if item.ino and (dev, ino) != (item.dev, item.ino):
            detail = (
                "replaced by another file after discovery (a rename or a link over it); "
                "not read, tried again on the next run"
            )
            return _quarantine(item.path, size, mtime, None, Reason.CHANGED_DURING_READ, detail)
        if not stat.S_ISREG(mode):
            return _quarantine(item.path, size, mtime, None, Reason.NOT_REGULAR_FILE, "")
        if size > self.settings.max_file_bytes:
            limit = self.settings.max_file_bytes / 1048576
            detail = f"{size / 1048576:.1f} MiB is above the {limit:g} MiB limit"
            return _quarantine(item.path, size, mtime, None, Reason.TOO_LARGE, detail)
        return None

    def _whole(
        self, item: WorkItem, data: bytes, size: int, mtime: int, size_after: int,
        mtime_after: int,
    ) -> FileVerdict | FileRead:  # fmt: skip
        """The bytes read, hashed, if the file stayed as it was while it was read."""
        if (size_after, mtime_after) != (size, mtime) or len(data) != size:
            detail = f"size {size} → {size_after} bytes while reading ({len(data)} read)"
            return _quarantine(
                item.path, size_after, mtime_after, None, Reason.CHANGED_DURING_READ, detail
            )
        return FileRead(item.path, size, mtime, data, self._hash(data).digest())

    def analyze_read(self, read: FileRead) -> FileVerdict:
        """The verdict on bytes read whole: reused when this content was analysed before
        (the file's own previous content among them: every analysed content is known)."""
        digest = read.digest.hex()
        if self.settings.reuse and read.digest in self.known_hashes:
            return FileVerdict(read.path, read.size, read.mtime_ns, digest, reused=True)
        return self.analyze_bytes(
            read.data, path=read.path, size=read.size, mtime_ns=read.mtime_ns, digest=digest
        )

    def analyze_bytes(
        self, data: bytes, *, path: str, size: int, mtime_ns: int, digest: str
    ) -> FileVerdict:
        """Parse, detect, validate and measure bytes already read and hashed."""
        enabled = gc.isenabled()
        gc.disable()  # ASTs are acyclic: collection only costs time on big documents
        try:
            return self._analyze(data, path, size, mtime_ns, digest)
        except MemoryError:
            return _quarantine(path, size, mtime_ns, digest, Reason.TOO_LARGE, "out of memory")
        except Exception as e:  # a bug must cost one file, not the run
            log.exception("analysis of %s failed", path)
            return _quarantine(
                path, size, mtime_ns, digest, Reason.ANALYSIS_ERROR, f"{type(e).__name__}: {e}"
            )
        finally:
            if enabled:
                gc.enable()

    def _analyze(self, data: bytes, path: str, size: int, mtime: int, digest: str) -> FileVerdict:
        if self.native is not None:
            verdict = self.native.analyze(data, path, size, mtime, digest)
            if verdict is not None:
                return verdict
        try:
            doc = parse_json(data, max_depth=self.settings.max_depth)
        except JsonProblem as p:
            return _quarantine(path, size, mtime, digest, p.reason, p.detail)
        if not isinstance(doc, dict):
            detail = f"the document is a JSON {_json_kind(doc)}, expected an object"
            return _quarantine(path, size, mtime, digest, Reason.NOT_OBJECT, detail)
        fmt_name: str | None = None
        try:
            declared = parser_name = parser_version = source_path = None
            tree = doc
            if looks_like_envelope(doc):
                envelope, tree = open_envelope(doc)
                declared = normalise_language(envelope.language)
                if envelope.parser is not None:
                    parser_name, parser_version = envelope.parser.name, envelope.parser.version
                if envelope.source is not None:
                    source_path = envelope.source.path
            fmt = self.registry.detect(tree)
            if fmt is None:
                detail = f"no format recognises a root with keys {_keys(tree)}"
                return _quarantine(path, size, mtime, digest, Reason.UNKNOWN_FORMAT, detail)
            fmt_name = fmt.name
            meta: AstMetadata = fmt.measure(
                tree,
                declared_language=declared,
                parser_name=parser_name,
                parser_version=parser_version,
                source_path=source_path,
            )
        except FormatProblem as p:
            return FileVerdict(
                path, size, mtime, digest, fmt_name, reason=p.reason, detail=p.detail
            )
        return FileVerdict(path, size, mtime, digest, meta.format, metadata=meta)


def _quarantine(
    path: str, size: int, mtime: int, digest: str | None, reason: Reason, detail: str
) -> FileVerdict:
    return FileVerdict(path, size, mtime, digest, reason=reason, detail=detail)


def _read_whole(fd: int, size: int) -> bytes:
    """The file's bytes: ``size`` of them, or others when it changed meanwhile (one more if it
    grew, fewer if it shrank; the caller compares). One ``read`` in the usual case, where
    ``FileIO.readall`` takes an ``fstat``, an ``lseek`` and a second read to see the end."""
    data = os.read(fd, size + 1)
    if len(data) >= size:
        return data
    parts, got = [data], len(data)
    while got <= size:  # a short read: past 2 GiB, or a network file system
        more = os.read(fd, size + 1 - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _stat_of(root: str, item: WorkItem) -> tuple[int, int]:
    """Size and mtime for the verdict of a file that could not be opened: what discovery
    saw, or when it did not stat the file (a new one), what ``lstat`` says now, if anything."""
    if item.size or item.ino:
        return item.size, 0
    try:
        st = os.lstat(os.path.join(root, item.path))
    except (OSError, ValueError):
        return 0, 0
    return st.st_size, st.st_mtime_ns


def _open_failure(item: WorkItem, e: OSError, size: int, mtime: int) -> FileVerdict:
    if e.errno == errno.ENOENT:
        return FileVerdict(item.path, size, mtime, None, vanished=True)
    if e.errno == errno.ELOOP:
        return _quarantine(item.path, size, mtime, None, Reason.SYMLINK_LOOP, str(e))
    return _quarantine(item.path, size, mtime, None, Reason.UNREADABLE, e.strerror or str(e))


def _json_kind(doc: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(doc), "number"
    )


def _keys(tree: dict[str, Any]) -> str:
    keys = list(tree)[:8]
    more = ", …" if len(tree) > 8 else ""
    return "{" + ", ".join(repr(k) for k in keys) + more + "}"
