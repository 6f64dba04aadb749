"""Integration tests: the sandbox's files (plaintext tokens and client secrets in SQLite, the
DC table it writes) are owner-only, whatever the umask (SECURITY 49). The sandbox on a real
port, real SQLite files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from private_files import mode, permissive_umask
from sandbox_support import ALICE, FULL_ACCESS, mint
from support import need_root
from zoho_invoice_sandbox import create_sandbox_app, running_sandbox
from zoho_invoice_sandbox._files import UnsafeFileError, ensure_private_sqlite
from zoho_invoice_sandbox._server import write_datacenters
from zoho_invoice_sandbox.invoice import seed_organization

pytestmark = [
    pytest.mark.usefixtures(permissive_umask.__name__),
    pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX"),
]


def test_s49_sandbox_folder_stores_wal_shm_and_datacenter_table_are_owner_only(
    tmp_path: Path,
) -> None:
    data = tmp_path / "sandbox" / "data"
    table = tmp_path / "out" / "datacenters.json"
    with running_sandbox(data_dir=data, datacenters_out=table) as sandbox:
        world = sandbox.world
        assert mint(world, ALICE, FULL_ACCESS)
        user = world.directory.user_by_email(ALICE)
        assert user is not None
        seed_organization(world, user.organization_ids[0], contacts=1, items=1, invoices=1)
        stores = [data / "sandbox-accounts.sqlite3", data / "invoice-sandbox.sqlite3"]
        files = [
            store.with_name(store.name + suffix)
            for store in stores
            for suffix in ("", "-wal", "-shm")
        ]
        assert all(path.exists() for path in files)
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
        for folder in (tmp_path / "sandbox", data, tmp_path / "out"):
            assert mode(folder) == 0o700, folder
        assert mode(table) == 0o600


# -- a folder others can write to: links and other users' files are refused -----------------

OTHER_UID = 65534  # nobody


def _plant(path: Path) -> Path:
    """An empty file another user owns, writable by all (as root only)."""
    need_root()
    path.write_bytes(b"")
    path.chmod(0o666)
    os.chown(path, OTHER_UID, OTHER_UID)
    return path


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_s49_sandbox_refuses_another_users_store_wal_or_shm(tmp_path: Path, suffix: str) -> None:
    data = tmp_path / "data"
    store = data / "sandbox-accounts.sqlite3"
    if suffix:
        ensure_private_sqlite(store)
    else:
        data.mkdir()
    planted = _plant(store.with_name(store.name + suffix))
    with pytest.raises(
        UnsafeFileError, match=re.escape(f"{store.name}{suffix} belongs to another user")
    ):
        create_sandbox_app(base_url="http://127.0.0.1:1", data_dir=data)
    assert (planted.read_bytes(), planted.stat().st_uid, mode(planted)) == (b"", OTHER_UID, 0o666)


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_s49_sandbox_refuses_a_symlinked_store_wal_or_shm(tmp_path: Path, suffix: str) -> None:
    data = tmp_path / "data"
    store = data / "sandbox-accounts.sqlite3"
    ensure_private_sqlite(store)
    if not suffix:
        store.unlink()
    bait = tmp_path / "bait"
    store.with_name(store.name + suffix).symlink_to(bait)
    with pytest.raises(
        UnsafeFileError, match=re.escape(f"{store.name}{suffix} is a symbolic link")
    ):
        ensure_private_sqlite(store)
    assert not bait.exists()


def test_s49_sandbox_datacenter_table_ignores_a_planted_tmp_and_refuses_a_link(
    tmp_path: Path,
) -> None:
    table = tmp_path / "datacenters.json"
    planted = _plant(tmp_path / "datacenters.json.tmp")
    write_datacenters("http://127.0.0.1:1", table)
    info = table.stat()
    assert (info.st_uid, mode(table)) == (os.geteuid(), 0o600)
    assert "127.0.0.1:1" in table.read_text()
    assert (planted.read_bytes(), planted.stat().st_uid) == (b"", OTHER_UID)
    table.unlink()
    bait = tmp_path / "bait"
    table.symlink_to(bait)
    with pytest.raises(UnsafeFileError, match=r"datacenters\.json is a symbolic link"):
        write_datacenters("http://127.0.0.1:1", table)
    assert not bait.exists()
