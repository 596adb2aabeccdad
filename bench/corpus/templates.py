"""Prebuilt documents varied per file: the fast path of the ``small`` profile."""

import random
import re

from .document import _build
from .grow import _sha
from .kinds import Kind, _target_size


class _Templates:
    """Prebuilt documents of one kind, varied per file: the fast path for millions of files.

    Each file takes a template and gets its own source path, ``sha256`` (envelopes) and name
    for one identifier (renamed throughout), so no two files share their content.
    """

    def __init__(
        self,
        kind: Kind,
        seed: int,
        profile: str,
        max_bytes: int,
        null_children: bool,
        count: int = 32,
    ) -> None:
        rng = random.Random(f"templates:{seed}:{kind.name}:{profile}")
        self.placeholder = ("@@SRC@@" + kind.extensions[0]).encode()
        self.items: list[tuple[bytes, bytes | None, bytes | None]] = []
        for _ in range(count):
            target = _target_size(profile, kind, rng, max_bytes)
            data = _build(
                kind,
                rng,
                target,
                self.placeholder.decode(),
                pool_seed=seed,
                null_children=null_children,
            )
            i = data.find(b'"sha256":"')
            sha = data[i + 10 : i + 74] if i >= 0 else None
            data, name = self._mark(data)
            self.items.append((data, sha, name))

    @staticmethod
    def _mark(data: bytes) -> tuple[bytes, bytes | None]:
        """Rename one identifier to a marker wherever it is a value (never a key or a type)."""
        for key in (b'"name":"', b'"text":"', b'"name": "'):
            j = data.find(key, 100)
            while 0 <= j < 200_000:
                start = j + len(key)
                end = data.index(b'"', start)
                name = data[start:end]
                taken = any(
                    k + name + b'"' in data
                    for k in (b'"type":"', b'"_type":"', b'"kind": "', b'"kind":"')
                )
                if len(name) > 3 and name.replace(b"_", b"").isalnum() and not taken:
                    pattern = re.compile(b'"' + name + b'"(?!:)')
                    return pattern.sub(b'"@@ID@@"', data), name
                j = data.find(key, end)
        return data, None

    def render(self, rng: random.Random, source_path: str, index: int) -> bytes:
        data, sha, name = rng.choice(self.items)
        data = data.replace(self.placeholder, source_path.encode())
        if sha is not None:
            data = data.replace(sha, _sha(rng).encode(), 1)
        if name is not None:
            data = data.replace(b"@@ID@@", name + f"{index:x}".encode())
        return data
