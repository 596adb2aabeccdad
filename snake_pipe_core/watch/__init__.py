"""The watcher process: Linux inotify through watchdog, changes into the journal.

- :mod:`.inotify`: watchdog's inotify observer, made to say when it went blind (a queue
  overflow, an unmounted root) and to skip pruned folders;
- :mod:`.events`: events → repository changes, with discovery's rules, settled in bursts;
- :mod:`.watcher`: :class:`~.watcher.Watcher` / :func:`~.watcher.watch_changes`, the
  iterator of change sets, with its self-check;
- :mod:`.service`: ``snake-pipe watch`` as a long-lived process (one per journal, a heartbeat),
  how a supervisor starts it, and ``--ingest``.

Nothing in ``snake_pipe_core/__init__`` imports this package, and importing it imports no
watchdog: only :mod:`.watcher` (and what it uses) does, when a watcher runs.
"""

__all__: list[str] = []
