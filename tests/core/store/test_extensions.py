"""DuckDB's extensions come from the installed packages; their signature check is skipped
unless asked for (docs/decisions.md), and a store opens either way."""

import duckdb
import pytest

from snake_pipe_core.store import Store
from snake_pipe_core.store.lake import connect_config, extension_directory

pytestmark = pytest.mark.integration


def test_extensions_load_from_the_packages_and_are_never_downloaded() -> None:
    config = connect_config()
    assert config["extension_directory"] == extension_directory()
    assert config["autoinstall_known_extensions"] is False
    con = duckdb.connect(config=config)
    try:
        con.execute("LOAD ducklake")
        con.execute("LOAD sqlite")
        loaded = con.execute(
            "SELECT extension_name, install_path FROM duckdb_extensions() WHERE loaded "
            "AND extension_name IN ('ducklake', 'sqlite_scanner') ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert [name for name, _ in loaded] == ["ducklake", "sqlite_scanner"]
    assert all(path.startswith(extension_directory()) for _, path in loaded)


@pytest.mark.parametrize("verify", ["", "1"])
def test_the_signature_check_is_kept_on_request(
    verify: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("SNAKE_PIPE_VERIFY_EXTENSIONS", verify)
    assert ("allow_unsigned_extensions" in connect_config()) is (verify == "")
    if verify:
        # the packages' extensions are signed: a store opens with the check on, too
        store = Store(f"{tmp_path}/store")
        store.open()
        assert store.query("SELECT count(*) FROM manifest") == [(0,)]
