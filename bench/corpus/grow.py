"""Growing a document to a target size, one top-level unit at a time.

A document is a skeleton plus units, each serialised once and measured; the skeleton's
sentinels are replaced by the joined units at the end, so the document is never re-serialised.
"""

import random
from typing import Any

from .program import Ir

Node = dict[str, Any]

_SENTINEL = "@@UNITS@@"
_SENTINEL_B = b'"@@UNITS@@"'


class _Cursor:
    """A position in the (virtual) source text: byte offset, 1-based line, 0-based column."""

    __slots__ = ("col", "line", "offset")

    def __init__(self) -> None:
        # Every statement starts with a newline: the first one lands on line 1, offset 0.
        self.offset = -1
        self.line = 0
        self.col = 0

    def newline(self, indent: int) -> None:
        self.offset += 1 + indent
        self.line += 1
        self.col = indent

    def skip(self, n: int) -> None:
        self.offset += n
        self.col += n

    def state(self) -> tuple[int, int, int]:
        return self.offset, self.line, self.col

    def restore(self, s: tuple[int, int, int]) -> None:
        self.offset, self.line, self.col = s


class _Doc:
    """A document under construction: a skeleton plus top-level units, each serialised once.

    Subclasses render a unit of about ``size`` statements in :meth:`unit` (appending its bytes
    to ``units``) and assemble the document in :meth:`finish`.
    """

    bps = 1000.0  # first guess of bytes per statement; learned while growing
    max_size = 40

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cur = _Cursor()
        self.units: list[bytes] = []

    def overhead(self) -> int:
        return 400

    def mark(self) -> tuple[Any, ...]:
        return self.cur.state(), len(self.units)

    def reset(self, m: tuple[Any, ...]) -> None:
        self.cur.restore(m[0])
        del self.units[m[1] :]

    def unit(self, size: int) -> tuple[int, int]:
        """Render one unit; return (bytes added, statements used)."""
        raise NotImplementedError

    def finish(self) -> bytes:
        raise NotImplementedError


def _grow(doc: _Doc, target: int) -> bytes:
    """Add units to ``doc`` until it is about ``target`` bytes, and return its bytes.

    The size of a unit is chosen from the bytes still missing and the learned cost of a
    statement; a unit that would overshoot is taken back and replaced by a smaller one, or
    dropped when stopping short is closer to the target.
    """
    total = doc.overhead()
    bps = doc.bps
    slack = max(200, target // 25)
    stalled = 0
    while total < target and stalled < 50:
        remaining = target - total
        size = max(1, min(doc.max_size, int(remaining / bps)))
        m = doc.mark()
        added, used = doc.unit(size)
        tries = 0
        while total + added > target + slack and not (size == 0 and tries > 4):
            doc.reset(m)  # too big: a smaller unit, another small one, then the smallest
            if size > 1:
                size = max(1, size // 3)
            else:
                tries += 1
                size = 0 if tries >= 3 else 1
            added, used = doc.unit(size)
        if total + added > target + slack and total + added - target > remaining:
            doc.reset(m)
            break
        if added == 0:
            stalled += 1
            continue
        total += added + 1
        bps = 0.7 * bps + 0.3 * (added / max(1, used))
    return doc.finish()


def _splice(skeleton: bytes, *parts: bytes) -> bytes:
    """Put already serialised parts in place of the skeleton's sentinels, in order."""
    out: list[bytes] = []
    rest = skeleton
    for part in parts:
        head, _, rest = rest.partition(_SENTINEL_B)
        out.append(head)
        out.append(part)
    out.append(rest)
    return b"".join(out)


def _cap_imports(imports: list[Ir], target: int) -> list[Ir]:
    """Small files import little: at most one import per 2.5 KB of document."""
    cap = target // 2500
    if len(imports) == 1 and imports[0][0] == "import_group":
        return [("import_group", imports[0][1][:cap])]
    return imports[:cap]


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"
