"""Integration tests: the sandbox's files (plaintext tokens and client secrets in SQLite, the
DC table it writes) are owner-only, whatever the umask (SECURITY 49). The sandbox on a real
port, real SQLite files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from private_files import mode, permissive_umask
from sandbox_support import ALICE, FULL_ACCESS, mint
from zoho_invoice_sandbox import running_sandbox
from zoho_invoice_sandbox.invoice import seed_organization

pytestmark = [
    pytest.mark.usefixtures(permissive_umask.__name__),
    pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX"),
]


def test_s49_sandbox_folder_stores_wal_shm_and_dc_table_are_owner_only(tmp_path: Path) -> None:
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
