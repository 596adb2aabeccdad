"""Parse AST JSON bytes the way real parsers write them.

``orjson`` is the fast path. It refuses two things that real output contains: nesting deeper
than 1,024 levels (tree-sitter dumps of long operator chains exceed 14,000) and escaped lone
surrogates (``"\\ud800"``, which Python's ``json`` writes for such string constants). Such
documents are valid input, so they fall back to Python's ``json`` and, when deep, to an
iterative parser that never recurses and enforces the configured depth bound.

Problems are raised as :class:`JsonProblem` with a reason code and a human detail with the
line and column, so the caller turns them into a quarantine verdict.
"""

import json
import re
import sys
import threading
from collections.abc import Callable
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, cast

import orjson

from ..models import Reason

__all__ = ["JsonProblem", "loads_iterative", "parse_json"]

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_ORJSON_MAX_DEPTH = 1024
_WS = re.compile(r"[ \t\n\r]*")
# Strings are matched whole so that brackets inside them are not counted; an unterminated
# string (a truncated document) runs to the end of the text.
_BRACKET_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.S)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# NaN, Infinity and -Infinity are not JSON, but Python's json writes and reads them; accepted
# on every path (docs/decisions.md), so a document's verdict does not depend on its depth.
_LITERALS = {
    "t": ("true", True),
    "f": ("false", False),
    "n": ("null", None),
    "N": ("NaN", float("nan")),
    "I": ("Infinity", float("inf")),
}


class JsonProblem(Exception):
    """The bytes are not a JSON document snake-pipe accepts."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _line_col(text: str | bytes, pos: int) -> str:
    nl: Any = "\n" if isinstance(text, str) else b"\n"
    line = text.count(nl, 0, pos) + 1
    col = pos - (text.rfind(nl, 0, pos) + 1) + 1
    return f"line {line} column {col} (char {pos})"


def parse_json(data: bytes, *, max_depth: int) -> Any:
    """Parse one document; raise :class:`JsonProblem` for empty, non-UTF-8, invalid or too
    deep input. ``max_depth`` bounds the nesting of arrays and objects."""
    if data.startswith(_UTF8_BOM):
        data = data[3:]
    # (strip() copies: only look when the first byte says the document may be blank)
    if not data or (data[:1].isspace() and not data.strip()):
        raise JsonProblem(Reason.EMPTY, "the file is empty" if not data else "only whitespace")
    try:
        return _within(orjson.loads(data), data, max_depth)
    except orjson.JSONDecodeError as e:
        message = str(e)
    if "UTF-8" in message:
        _raise_encoding(data)
    if "depth limit" in message and max_depth <= _ORJSON_MAX_DEPTH:
        raise JsonProblem(Reason.TOO_DEEP, f"nesting deeper than {max_depth} levels")
    # orjson refused something that real parsers write; decide with the lenient parsers.
    text = _decode(data)
    if "depth limit" not in message:
        try:
            return _within(json.loads(text), data, max_depth)
        except json.JSONDecodeError as e:
            if _nests_deeper_before(text, e.pos, max_depth):
                raise JsonProblem(
                    Reason.TOO_DEEP, f"nesting deeper than {max_depth} levels"
                ) from None
            raise JsonProblem(Reason.INVALID_JSON, f"{e.msg}: {_line_col(text, e.pos)}") from None
        except RecursionError:
            pass
    return _loads_deep(text, max_depth)


def _within(doc: Any, data: bytes, max_depth: int) -> Any:
    """``doc`` if its arrays and objects nest at most ``max_depth`` levels; else raise
    ``too_deep``. orjson and ``json`` parse up to ~1,000 levels whatever bound is configured,
    so a bound below that is checked here: a glance at the bytes first (fewer brackets than
    the bound cannot nest deeper), then one iterative walk."""
    if max_depth >= _ORJSON_MAX_DEPTH or data.count(b"[") + data.count(b"{") <= max_depth:
        return doc
    stack: list[tuple[Any, int]] = [(doc, 1)] if isinstance(doc, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise JsonProblem(Reason.TOO_DEEP, f"nesting deeper than {max_depth} levels")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return doc


def _nests_deeper_before(text: str, end: int, max_depth: int) -> bool:
    """Whether the valid prefix ``text[:end]`` opens more than ``max_depth`` nested arrays
    or objects. The first problem in reading order is the one reported, as the scanner
    does: ``json`` parses as deep as the interpreter's recursion limit allows, which is
    above a small ``max_depth`` (and higher under some test runners), so a truncated, too
    deep document would otherwise be ``invalid_json`` or ``too_deep`` depending on it."""
    if end <= max_depth or text.count("[", 0, end) + text.count("{", 0, end) <= max_depth:
        return False
    depth = 0
    for m in _BRACKET_OR_STRING.finditer(text, 0, end):
        c = m.group()
        if c == "[" or c == "{":
            depth += 1
            if depth > max_depth:
                return True
        elif c == "]" or c == "}":
            depth -= 1
    return False


def _frame_depth() -> int:
    depth, frame = 0, sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return depth


def _loads_deep(text: str, max_depth: int) -> Any:
    """A document nested deeper than orjson allows: Python's C scanner in a thread whose stack
    fits ``max_depth`` levels (about 5x faster than :func:`loads_iterative`), with the
    recursion limit set so that success proves the nesting is within ``max_depth``. When
    the scanner stops short — near the limit, beyond it, or on a Python whose C recursion
    limit is fixed (3.12+) — the iterative parser decides, exactly."""
    outcome: dict[str, Any] = {}

    def parse() -> None:
        old = sys.getrecursionlimit()
        # Each nesting level is one recursive call of the scanner; the frames below this one
        # make the limit a little lower than max_depth, never higher.
        sys.setrecursionlimit(max(old, _frame_depth() + max_depth))
        try:
            outcome["doc"] = json.loads(text)
        except (RecursionError, json.JSONDecodeError, MemoryError):
            pass
        finally:
            sys.setrecursionlimit(old)

    try:
        previous = threading.stack_size(min(max(64 << 20, max_depth * 1024), 1 << 30))
        try:
            thread = threading.Thread(target=parse, name="snake-pipe-deep-json", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
        thread.join()
    except (RuntimeError, ValueError, MemoryError):  # no thread with such a stack here
        pass
    if "doc" in outcome:
        return outcome["doc"]
    return loads_iterative(text, max_depth=max_depth)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        _raise_encoding(data)
        raise  # unreachable: _raise_encoding always raises


def _raise_encoding(data: bytes) -> None:
    if data.startswith(_UTF16_32_BOMS):
        raise JsonProblem(Reason.ENCODING, "UTF-16/UTF-32 byte order mark; AST JSON must be UTF-8")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonProblem(
            Reason.ENCODING,
            f"not valid UTF-8: byte 0x{data[e.start]:02x} at {_line_col(data, e.start)}",
        ) from None
    raise JsonProblem(Reason.ENCODING, "not valid UTF-8")


def loads_iterative(text: str, *, max_depth: int) -> Any:  # noqa: C901 - one state machine
    """Parse JSON without recursion, for documents nested deeper than C parsers allow.

    Accepts what Python's ``json`` accepts (lone surrogate escapes, NaN and Infinity included)
    and raises
    :class:`JsonProblem` with ``too_deep`` beyond ``max_depth`` nesting levels.
    """
    containers: list[Any] = []
    keys: list[Any] = []
    # The pattern matches the empty string, so match() never returns None here.
    ws = cast(Callable[[str, int], re.Match[str]], _WS.match)
    n = len(text)
    pos = ws(text, 0).end()

    def fail(msg: str, at: int) -> JsonProblem:
        return JsonProblem(Reason.INVALID_JSON, f"{msg}: {_line_col(text, at)}")

    def read_key(at: int) -> tuple[str, int]:
        if at >= n or text[at] != '"':
            raise fail("Expecting property name enclosed in double quotes", at)
        try:
            key, at = scanstring(text, at + 1)
        except ValueError as e:
            raise fail(str(e).split(":")[0], at) from None
        at = ws(text, at).end()
        if at >= n or text[at] != ":":
            raise fail("Expecting ':' delimiter", at)
        return key, ws(text, at + 1).end()

    while True:
        # A value starts at pos.
        if pos >= n:
            raise fail("Expecting value", pos)
        c = text[pos]
        value: Any
        if c == "{" or c == "[":
            if len(containers) >= max_depth:
                raise JsonProblem(Reason.TOO_DEEP, f"nesting deeper than {max_depth} levels")
            close = "}" if c == "{" else "]"
            pos = ws(text, pos + 1).end()
            if pos < n and text[pos] == close:
                value = {} if c == "{" else []
                pos += 1
            elif c == "{":
                key, pos = read_key(pos)
                containers.append({})
                keys.append(key)
                continue
            else:
                containers.append([])
                keys.append(None)
                continue
        elif c == '"':
            try:
                value, pos = scanstring(text, pos + 1)
            except ValueError as e:
                raise fail(str(e).split(":")[0], pos) from None
        elif c in _LITERALS:
            word, value = _LITERALS[c]
            if not text.startswith(word, pos):
                raise fail("Expecting value", pos)
            pos += len(word)
        elif text.startswith("-Infinity", pos):
            value = float("-inf")
            pos += 9
        else:
            m = _NUMBER.match(text, pos)
            if m is None:
                raise fail("Expecting value", pos)
            pos = m.end()
            value = float(m.group()) if m.group(1) or m.group(2) else int(m.group())
        # Attach the finished value; close as many containers as end here.
        while True:
            if not containers:
                pos = ws(text, pos).end()
                if pos != n:
                    raise fail("Extra data", pos)
                return value
            top = containers[-1]
            if type(top) is list:
                top.append(value)
            else:
                top[keys[-1]] = value
            pos = ws(text, pos).end()
            c = text[pos] if pos < n else ""
            if c == ",":
                pos = ws(text, pos + 1).end()
                if type(top) is dict:
                    keys[-1], pos = read_key(pos)
                break
            if c == ("]" if type(top) is list else "}"):
                value = containers.pop()
                keys.pop()
                pos += 1
                continue
            raise fail("Expecting ',' delimiter", pos)
