from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's configuration or store."""
    for var in ("SNAKE_PIPE_CONFIG", "SNAKE_PIPE_STORE", "SNAKE_PIPE_WORKERS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
