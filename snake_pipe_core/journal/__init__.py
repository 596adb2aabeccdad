"""The durable change journal and its one consumer.

- :mod:`.changes`: what the watcher records (a :class:`Change` of a path, or a rescan) and
  how records fold into the work of one run per repository (:func:`group_changes`);
- :mod:`.log`: the journal itself, a SQLite file in WAL mode (:class:`ChangeJournal`), with
  the watcher's heartbeat and the consumer's lease; :mod:`.postgres` the same in PostgreSQL
  for a watcher and a consumer on different hosts; :mod:`.base` what both offer
  (:class:`Journal`) and :func:`open_journal`, which picks one from the settings;
- :mod:`.consumer`: the one consumer — lease, cursor (:mod:`.state`), loss detection,
  planning (:mod:`.plan`), retries and compaction — that both ``snake-pipe watch --ingest``
  (:mod:`.local`, in its own process) and the Dagster sensor ``ast_change_sensor`` call.

Nothing here needs inotify: the journal is read wherever the store is.
"""

from .base import Journal, open_journal
from .changes import Change, FileChange, JournalRecord, RepoChanges, group_changes
from .consumer import JournalConsumer
from .log import ChangeJournal, WatcherStatus
from .plan import Outcome, OutcomeFn, Plan, Work, backoff_s
from .state import ConsumerState, RepoState

__all__ = [
    "Change",
    "ChangeJournal",
    "ConsumerState",
    "FileChange",
    "Journal",
    "JournalConsumer",
    "JournalRecord",
    "Outcome",
    "OutcomeFn",
    "Plan",
    "RepoChanges",
    "RepoState",
    "WatcherStatus",
    "Work",
    "backoff_s",
    "group_changes",
    "open_journal",
]
