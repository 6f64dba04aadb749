"""Integration tests: the vault's SQLite database, its WAL and SHM and its folder are
owner-only, whatever the umask (SECURITY 49). Real files, real SQLite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from private_files import mode, permissive_umask
from zoho_invoice import ConfigurationError
from zoho_invoice.settings import Settings
from zoho_invoice.vault import KeyRing, Vault, upgrade_database

pytestmark = [
    pytest.mark.usefixtures(permissive_umask.__name__),
    pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX"),
]


def _sidecars(db: Path) -> list[Path]:
    return [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm")]


def test_s49_data_folder_database_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    keys = KeyRing.generate_entry("k1")
    settings = Settings(data_dir=tmp_path / "state" / "data", encryption_keys=keys)
    vault = Vault.from_settings(settings, upgrade=True)
    try:
        vault.create_connect_session(owner="alice", location="us")
        db = settings.data_dir / "zoho-invoice.db"
        # While the vault is open, SQLite keeps its write-ahead log and shared memory beside it.
        assert all(p.exists() for p in _sidecars(db))
        assert mode(tmp_path / "state") == 0o700
        assert mode(settings.data_dir) == 0o700
        assert [mode(p) for p in (db, *_sidecars(db))] == [0o600, 0o600, 0o600]
        assert sorted(p.name for p in settings.data_dir.iterdir()) == sorted(
            ["zoho-invoice.db", "zoho-invoice.db-wal", "zoho-invoice.db-shm"]
        )
    finally:
        vault.close()


def test_s49_a_database_left_readable_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    upgrade_database(f"sqlite:///{db}")
    for path in (db, *_sidecars(db)):
        path.touch()
        path.chmod(0o644)
    vault = Vault.open(f"sqlite:///{db}", KeyRing.from_string(KeyRing.generate_entry("k1")))
    try:
        vault.create_connect_session(owner="bob")
        assert [mode(p) for p in (db, *_sidecars(db))] == [0o600, 0o600, 0o600]
    finally:
        vault.close()


def test_s49_a_symlinked_database_is_refused_before_sqlite_opens_it(tmp_path: Path) -> None:
    bait = tmp_path / "bait.db"
    db = tmp_path / "vault.db"
    db.symlink_to(bait)
    keyring = KeyRing.from_string(KeyRing.generate_entry("k1"))
    with pytest.raises(ConfigurationError, match=r"vault\.db is a symbolic link"):
        Vault.open(f"sqlite:///{db}", keyring, upgrade=True)
    assert not bait.exists()
