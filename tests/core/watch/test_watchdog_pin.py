"""watchdog is pinned to the exact release whose internals ``snake_pipe_core/watch/inotify.py``
builds on (docs/decisions.md, "watchdog pinned"). If this fails, watchdog changed: read each
function named below in the new release against the override or the private member we use,
fix ``inotify.py``, then record the new release and fingerprints here and the pin in
pyproject.toml."""

import hashlib
import inspect
from pathlib import Path

import pytest
import watchdog.version
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyEmitter
from watchdog.observers.inotify_buffer import InotifyBuffer
from watchdog.observers.inotify_c import Inotify, InotifyConstants

pytestmark = pytest.mark.unit

PINNED = "6.0.0"
# What of watchdog each function's code is relied on for, and a fingerprint of its source.
RELIED_ON = {
    Inotify.__init__: (
        "0038d711a30c8d9c",
        "sets _inotify_fd, _lock, _closed, _is_reading, _kill_w, _check_inotify_fd, "
        "_wd_for_path, _path_for_wd, _path, _event_mask, then calls _add_dir_watch "
        "(overridden: pruned folders are not watched)",
    ),
    Inotify.read_events: (
        "f2d9bc84777a8ab5",
        "replaced by _Inotify.read_events (_read_buffer + _events_from_buffer): it still skips "
        "wd == -1 (IN_Q_OVERFLOW) silently? it still does not watch folders moved in? If "
        "both are fixed upstream, drop the override",
    ),
    Inotify._add_dir_watch: ("905c8a528d01c89a", "overridden with the same signature"),
    Inotify._add_watch: ("2e0dc2b6d0e67bbd", "called; fills _wd_for_path and _path_for_wd"),
    Inotify.close: ("8e5f142703a30d1c", "sets _closed and wakes the reader (_kill_w)"),
    Inotify._close_resources: ("4722c56344079e9c", "called when reading ends"),
    Inotify._parse_event_buffer: ("6061189c69c0f5dd", "called: yields (wd, mask, cookie, name)"),
    InotifyBuffer.__init__: (
        "cf86d6f881fb8f75",
        "replaced by _Buffer.__init__ (BaseThread.__init__, _queue = DelayedQueue(delay), "
        "_inotify, start()) to build an _Inotify",
    ),
    InotifyBuffer.run: ("51682b7c5b9c7a84", "reads self._inotify.read_events()"),
    InotifyEmitter.__init__: ("c9b3c56538b292f3", "_Emitter passes its arguments through"),
    InotifyEmitter.on_thread_start: ("f8b849bc863a4c08", "replaced: sets self._inotify"),
    InotifyEmitter.on_thread_stop: ("5818765235db9a17", "closes self._inotify"),
    InotifyEmitter.queue_events: (
        "6e22aa286eb8c69a",
        "reads self._inotify.read_event(); full_events for moves in and out of the tree",
    ),
    BaseObserver.__init__: (
        "190da0ada5a39c57",
        "builds emitters as emitter_class(queue, watch, timeout=, event_filter=)",
    ),
    BaseObserver.schedule: ("54408d03ff4a0b14", "registers the handler before the emitter"),
}


def _fingerprint(function: object) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]  # type: ignore[arg-type]


def test_watchdog_is_the_release_the_inotify_overrides_were_written_for() -> None:
    changed = [
        f"{f.__qualname__}: {why}"
        for f, (fingerprint, why) in RELIED_ON.items()
        if _fingerprint(f) != fingerprint
    ]
    assert watchdog.version.VERSION_STRING == PINNED and not changed, (
        f"watchdog {watchdog.version.VERSION_STRING} is installed; snake_pipe_core/watch/"
        f"inotify.py was written against {PINNED}. Check, in the new release:\n  "
        + "\n  ".join(changed or [f"{f.__qualname__}: {why}" for f, (_, why) in RELIED_ON.items()])
    )


def test_the_private_members_used_are_there(tmp_path: Path) -> None:
    ino = Inotify(bytes(tmp_path), recursive=True, event_mask=InotifyConstants.IN_CREATE)
    try:
        for name in ("_inotify_fd", "_lock", "_closed", "_is_reading", "_kill_w",
                     "_check_inotify_fd", "_wd_for_path", "_path_for_wd", "_path",
                     "_event_mask", "_moved_from_events"):  # fmt: skip
            assert hasattr(ino, name), f"watchdog's Inotify has no {name} any more"
        assert ino._wd_for_path == {bytes(tmp_path): ino._wd_for_path[bytes(tmp_path)]}
    finally:
        ino.close()
    assert isinstance(InotifyBuffer.delay, float)


def test_the_pin_is_written_down() -> None:
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert f'"watchdog=={PINNED}"' in pyproject
