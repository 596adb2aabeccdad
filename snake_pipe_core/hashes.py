"""Content hashes: how a file's bytes are hashed, and the hashes already analysed, in a form
every worker process can afford to hold.

A store records which hash its ``content_hash`` values are (``store_settings``): BLAKE3 for a
store created by this release, sha256 for one that already held sha256 hashes (created by an
earlier release, or migrated from 0.1). A store never mixes the two, so identical contents
always meet under one hash.

Reuse by content (identical files under other paths or repositories share one metadata row)
needs each worker to ask "was this hash analysed before?". A Python ``set`` of hex strings
costs ~180 bytes a hash, per process; a store of a million files would spend more memory on
that set than on the work. Here the digests are 32-byte records in one sorted ``bytes``
object: 32 bytes a hash, pickled to workers as one buffer, searched by bisection.
"""

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from blake3 import blake3

__all__ = ["CONTENT_HASHES", "DIGEST_SIZE", "NEW_STORE_HASH", "KnownHashes", "content_hasher"]

DIGEST_SIZE = 32  # sha256 and BLAKE3 (its default length) alike


class _Hash(Protocol):
    def update(self, data: bytes, /) -> Any: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


# The hashes a store's ``content_hash`` can be, by the name ``store_settings`` records.
# On one core of the project's machine, over the realistic mix (avg 165 KB), BLAKE3 hashes
# 6,675 MB/s and sha256 2,124 MB/s with the CPU's SHA extensions: sha256 was a fifth of a
# large-file ingest's CPU. Below 4 KB sha256 is the quicker one (docs/decisions.md).
CONTENT_HASHES: dict[str, Callable[..., _Hash]] = {"blake3": blake3, "sha256": hashlib.sha256}
NEW_STORE_HASH = "blake3"


def content_hasher(name: str) -> Callable[..., _Hash]:
    """The hash called ``name`` (``CONTENT_HASHES``): ``content_hasher(name)(data).digest()``."""
    try:
        return CONTENT_HASHES[name]
    except KeyError:
        raise ValueError(
            f"unknown content hash {name!r}: this snake-pipe knows {', '.join(CONTENT_HASHES)}"
        ) from None


class KnownHashes:
    """An immutable set of 32-byte digests; ``digest in known`` takes raw or hex digests."""

    __slots__ = ("_count", "_data")

    def __init__(self, sorted_digests: bytes = b"") -> None:
        if len(sorted_digests) % DIGEST_SIZE:
            raise ValueError("digests must be 32-byte records")
        self._data = sorted_digests
        self._count = len(sorted_digests) // DIGEST_SIZE

    @classmethod
    def from_hex(cls, hashes: Iterable[str]) -> "KnownHashes":
        return cls(b"".join(sorted({bytes.fromhex(h) for h in hashes})))

    @classmethod
    def from_sorted_arrow(cls, column: Any) -> "KnownHashes":
        """From an Arrow binary column of 32-byte digests in ascending order (DuckDB's
        ``SELECT unhex(content_hash) … ORDER BY 1``), without a Python object per hash."""
        chunks = []
        for chunk in column.chunks:
            if chunk.null_count:
                raise ValueError("null digest")
            if not len(chunk):
                continue
            offsets, data = chunk.buffers()[1:3]
            raw = memoryview(offsets)
            bounds = raw.cast("q") if str(chunk.type).startswith("large_") else raw.cast("i")
            first, last = bounds[chunk.offset], bounds[chunk.offset + len(chunk)]
            if last - first != len(chunk) * DIGEST_SIZE:
                raise ValueError("digests must be 32 bytes each")
            # Every value is 32 bytes, so the values are the records back to back.
            chunks.append(data.to_pybytes()[first:last])
        return cls(b"".join(chunks))

    def __len__(self) -> int:
        return self._count

    def __contains__(self, digest: object) -> bool:
        if isinstance(digest, str):
            try:
                digest = bytes.fromhex(digest)
            except ValueError:
                return False
        if not isinstance(digest, bytes) or len(digest) != DIGEST_SIZE:
            return False
        data, lo, hi = self._data, 0, self._count
        while lo < hi:
            mid = (lo + hi) >> 1
            at = mid * DIGEST_SIZE
            record = data[at : at + DIGEST_SIZE]
            if record < digest:
                lo = mid + 1
            elif record > digest:
                hi = mid
            else:
                return True
        return False

    def __reduce__(self) -> tuple[type["KnownHashes"], tuple[bytes]]:
        return (KnownHashes, (self._data,))

    def __repr__(self) -> str:
        return f"KnownHashes({self._count} digests)"
