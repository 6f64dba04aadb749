"""``zoho-invoice demo``: the sandbox and the service with a demo dashboard, on this machine.

The demo keeps its state in one folder (``.zoho-invoice`` by default): ``demo.json`` (its keys,
API key, client and sandbox port), ``datacenters.json`` (the sandbox's data-centre table), the
service's database and the sandbox's. It also writes its settings to the settings file the CLI
and the service read (``.env`` in the working directory, see ``settings.env_file``), so
``zoho-invoice connections list`` run next in the same folder opens the demo's vault. Every
file is owner-only: they hold keys.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._files import ensure_private_dir, ensure_private_file, write_private_text
from ..settings import Settings, env_file
from ..vault import KeyRing
from ._common import PortOption, err, fail, load_settings, out, run_service, setup_logging

if TYPE_CHECKING:
    from zoho_invoice_sandbox import SandboxWorld

__all__ = [
    "DemoSetup",
    "demo",
    "demo_settings",
    "prepare_demo",
    "seed_demo_world",
    "write_env_file",
]

DEMO_SANDBOX_PORT = 8090
DEMO_PUBLIC_URL = "http://127.0.0.1:8000"
#: What the demo puts in every simulated organization on its first run.
DEMO_CONTACTS, DEMO_ITEMS, DEMO_INVOICES = 40, 15, 120
#: The first line of a settings file the demo wrote; the demo replaces only such a file.
ENV_FILE_MARKER = "# Written by `zoho-invoice demo`: the demo's settings (keys: keep it private)."


@dataclass
class DemoSetup:
    """The demo's folder, kept between runs: keys, the sandbox's port and data folder."""

    data_dir: Path
    secrets: dict[str, Any]
    sandbox_port: int
    sandbox_dir: Path

    @property
    def seeded(self) -> bool:
        return bool(self.secrets.get("seeded"))

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def datacenters_file(self) -> Path:
        return self.data_dir / "datacenters.json"

    def mark_seeded(self) -> None:
        self.secrets["seeded"] = True
        _write_demo_json(self.data_dir / "demo.json", self.secrets)


def _write_demo_json(path: Path, data: dict[str, Any]) -> None:
    # Owner-only: the file holds the demo's keys.
    write_private_text(path, json.dumps(data, indent=2))


def prepare_demo(
    data_dir: Path, *, sandbox_port: int | None = None, public_url: str = DEMO_PUBLIC_URL
) -> DemoSetup:
    """Create or reopen the demo's folder and write the settings the CLI and service read.

    The first run generates the keys and picks the sandbox's port (``sandbox_port``, else 8090
    when free, else any free port) and stores them in ``demo.json``; later runs reuse them, so the
    stored connections (whose API domain names that port) keep working. Every run writes the
    sandbox's data-centre table and the settings file (see :func:`write_env_file`).
    """
    ensure_private_dir(data_dir)
    path = data_dir / "demo.json"
    data: dict[str, Any]
    if path.exists():
        ensure_private_file(path)  # a demo.json from an older version may be 0644
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            loaded = None
        if not isinstance(loaded, dict) or not all(
            isinstance(loaded.get(k), str) for k in ("encryption_keys", "api_key", "client_secret")
        ):
            fail(f"{path} is damaged; delete the folder {data_dir} to start the demo afresh")
        data = loaded
    else:
        data = {
            "encryption_keys": KeyRing.generate_entry(),
            "api_key": secrets.token_urlsafe(32),
            "client_id": "1000.DEMOCLIENT",
            "client_secret": secrets.token_hex(20),
        }
    stored = data.get("sandbox_port")
    if isinstance(stored, int) and 0 < stored < 65536:
        if sandbox_port and sandbox_port != stored:
            fail(
                f"this demo folder uses sandbox port {stored} (its connections point there); "
                f"drop --sandbox-port or use another --data-dir"
            )
        port = stored
    else:
        port = sandbox_port or (
            DEMO_SANDBOX_PORT if _port_is_free(DEMO_SANDBOX_PORT) else _free_port()
        )
        data["sandbox_port"] = port
    if not path.exists() or data.get("sandbox_port") != stored:
        _write_demo_json(path, data)
    setup = DemoSetup(
        data_dir=data_dir, secrets=data, sandbox_port=port, sandbox_dir=data_dir / "sandbox"
    )
    _write_datacenters(setup)
    target = env_file()
    if target is not None and not write_env_file(target, _env_values(setup, public_url)):
        err.print(
            f"note: {target} exists and was not written by the demo, so it is left alone; "
            f"the CLI finds the demo's settings when you add them to it (or set them in the "
            f"environment): see {data_dir / 'demo.json'}",
            highlight=False,
        )
    return setup


def _write_datacenters(setup: DemoSetup) -> None:
    from zoho_invoice_sandbox import datacenters_table  # the optional sandbox part

    table = datacenters_table(setup.sandbox_url)
    write_private_text(setup.datacenters_file, json.dumps(table, indent=2))


def _env_values(setup: DemoSetup, public_url: str) -> dict[str, str]:
    """The demo's settings as ``ZOHO_*`` variables (paths absolute: any folder may read them)."""
    keys = setup.secrets
    return {
        "ZOHO_CLIENT_ID": str(keys.get("client_id", "1000.DEMOCLIENT")),
        "ZOHO_CLIENT_SECRET": str(keys["client_secret"]),
        "ZOHO_REDIRECT_URI": f"{public_url}/callback",
        "ZOHO_PUBLIC_URL": public_url,
        "ZOHO_ENCRYPTION_KEYS": str(keys["encryption_keys"]),
        "ZOHO_API_KEY": str(keys["api_key"]),
        "ZOHO_DATACENTERS": str(setup.datacenters_file.resolve()),
        "ZOHO_DATA_DIR": str(setup.data_dir.resolve()),
    }


def write_env_file(path: Path, values: dict[str, str]) -> bool:
    """Write ``values`` to the settings file ``path`` (``0600``), unless a file there was not
    written by the demo: a person's own ``.env`` is never replaced. Returns whether it wrote.
    """
    if path.exists():
        try:
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        except (OSError, UnicodeDecodeError):
            return False
        if first != ENV_FILE_MARKER:
            return False
    lines = [ENV_FILE_MARKER, "# The environment wins over this file; delete it to forget them."]
    lines += [f"{name}={_quoted(value)}" for name, value in values.items()]
    write_private_text(path, "\n".join(lines) + "\n")
    return True


def _quoted(value: str) -> str:
    """``value`` in double quotes, as dotenv reads them back unchanged."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def demo_settings(setup: DemoSetup, public_url: str = DEMO_PUBLIC_URL) -> Settings:
    """The service's settings in the demo: its stored keys, the sandbox's data-centre table."""
    keys = setup.secrets
    return load_settings(
        client_id=str(keys.get("client_id", "1000.DEMOCLIENT")),
        client_secret=keys["client_secret"],
        redirect_uri=f"{public_url}/callback",
        encryption_keys=keys["encryption_keys"],
        api_key=keys["api_key"],
        datacenters=setup.datacenters_file,
        data_dir=setup.data_dir,
        public_url=public_url,
    )


def seed_demo_world(world: SandboxWorld) -> int:
    """Fill every simulated organization with contacts, items and invoices; returns invoices."""
    from zoho_invoice_sandbox.invoice import seed_organization  # the optional sandbox part

    total = 0
    for number, org in enumerate(world.directory.organizations):
        total += seed_organization(
            world,
            org.organization_id,
            contacts=DEMO_CONTACTS,
            items=DEMO_ITEMS,
            invoices=DEMO_INVOICES,
            seed=number,
        ).invoices
    return total


def demo(
    port: PortOption = 8000,
    sandbox_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Sandbox port on the first run (default 8090, or any free)."
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data.")] = Path(
        ".zoho-invoice"
    ),
) -> None:
    """Run the whole product locally: the sandbox plus the service with a demo dashboard.

    A second run in the same folder finds the same connections, still working. The demo's
    settings go to .env here, so `zoho-invoice connections list` works next in this folder.
    """
    setup_logging(logging.WARNING)
    # The optional sandbox part (the sandbox extra), needed by this command alone.
    from zoho_invoice_sandbox import running_sandbox
    from zoho_invoice_sandbox._server import CONTROL_KEY_ENV

    try:
        ensure_private_dir(data_dir)
    except OSError as exc:
        fail(f"cannot create {data_dir}: {exc.strerror}")
    public_url = f"http://127.0.0.1:{port}"
    try:
        setup = prepare_demo(data_dir, sandbox_port=sandbox_port, public_url=public_url)
    except OSError as exc:  # demo.json or a file beside it is a link or not ours (SECURITY 49)
        fail(f"cannot prepare the demo in {data_dir}: {exc.strerror or exc}")
    keys = setup.secrets
    ensure_private_dir(setup.sandbox_dir)
    # The demo needs no control route: unless ZOHO_SANDBOX_CONTROL_KEY names one (to look at
    # the journal), a key nobody holds keeps the journal's secrets unread.
    control_key = os.environ.get(CONTROL_KEY_ENV) or secrets.token_urlsafe(32)
    with ExitStack() as stack:
        try:
            sandbox = stack.enter_context(
                running_sandbox(
                    port=setup.sandbox_port, data_dir=setup.sandbox_dir, control_key=control_key
                )
            )
        except OSError:
            fail(
                f"the demo's sandbox port {setup.sandbox_port} is in use (is another demo "
                "running?); stop it, or use another --data-dir"
            )
        except RuntimeError:
            fail(f"the sandbox could not start on port {setup.sandbox_port}")
        if not setup.seeded:
            with err.status("filling the sandbox's organizations with invoices..."):
                seed_demo_world(sandbox.world)
            setup.mark_seeded()
        settings = demo_settings(setup, public_url)
        out.print(f"\n[bold]Zoho Invoice Connect demo[/]  dashboard: {public_url}/")
        out.print(f"  Zoho sandbox: {sandbox.base_url}", highlight=False)
        out.print(f"  JSON API key: {keys['api_key']}", highlight=False)
        out.print(f"  data folder:  {data_dir.resolve()}", highlight=False)
        out.print("  Press Ctrl-C to stop.\n", highlight=False)
        run_service(settings, host="127.0.0.1", port=port, demo=True)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
