"""End-to-end: ``docs/deploy.md`` runs as written (issue 9, item 7).

Every ``sh`` block is run by bash, the ``ExecStart=`` of every systemd unit is started as a real
process, the nginx configuration is served by a real nginx in front of two "hosts" (two
``serve --workers 2`` on their own ports), all on a PostgreSQL database of its own, with the
sandbox as Zoho. What the test changes, and nothing else: port numbers (8000, 443, the upstream
addresses) for free loopback ports, ``/opt/zoho-invoice/.venv/bin/`` for this interpreter's
folder, the certificate paths for a self-signed pair, and each ``sudo systemctl`` line, which the
test carries out itself on its processes (start, or restart host by host). The key rotation is
done while requests flow through nginx: not one may fail.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine, select, text
from starlette.testclient import TestClient

from flows import PUBLIC_URL, connect_via_web
from support import free_port, missing, wait_until_serving
from zoho_invoice import Settings
from zoho_invoice._http import httpx
from zoho_invoice.vault._models import ConnectionRow
from zoho_invoice.web import create_app
from zoho_invoice_sandbox import RunningSandbox, running_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

DOC = Path(__file__).resolve().parents[2] / "docs/deploy.md"
BIN = Path(sys.executable).parent
API_KEY = "deploy-doc-api-key-" + "0123456789abcdef" * 2
#: The doc's ``fail_timeout``: how long nginx keeps a host out after a failed attempt.
NGINX_FAIL_TIMEOUT = 5
METRICS_KEY = "deploy-doc-metrics-key-" + "fedcba9876543210" * 2


@dataclass(frozen=True)
class Block:
    lang: str
    text: str


def doc_blocks() -> list[Block]:
    """The fenced blocks of docs/deploy.md, in order."""
    found = re.findall(r"^```(\w*)\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    return [Block(lang, body) for lang, body in found]


def blocks(lang: str) -> list[str]:
    return [b.text for b in doc_blocks() if b.lang == lang]


def exec_start(unit: str) -> list[str]:
    [line] = [ln for ln in unit.splitlines() if ln.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0].startswith("/opt/zoho-invoice/.venv/bin/"), argv[0]
    return [str(BIN / Path(argv[0]).name), *argv[1:]]


def test_the_doc_has_what_the_test_runs() -> None:
    """The page keeps the pieces this test runs: its sh blocks, two units and one nginx file."""
    assert len(blocks("sh")) == 4
    units = blocks("ini")
    assert [exec_start(u)[1] for u in units] == ["serve", "worker"]
    assert "--workers" in exec_start(units[0])
    assert len(blocks("nginx")) == 1


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "invoices.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Fleet:
    """The processes the doc describes, and the environment file they all read."""

    tmp_path: Path
    env: dict[str, str]
    host_ports: list[int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def bash(self, script: str) -> tuple[str, dict[str, str]]:
        """Run ``script`` with bash -e in the fleet's environment; its output and the
        environment it leaves (so an ``export`` carries on, as an edit of the env file would)."""
        env_out = self.tmp_path / f"env-{uuid.uuid4().hex}"
        done = subprocess.run(
            [
                "bash",
                "-euo",
                "pipefail",
                "-c",
                f"set -a\n{script}\nenv -0 > {shlex.quote(str(env_out))}",
            ],
            env={**self.env, "PATH": f"{BIN}:{os.environ['PATH']}"},
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        pairs = [p.split("=", 1) for p in env_out.read_text().split("\0") if "=" in p]
        env_out.unlink()
        # The settings, and the doc's own variables (NEW_KEY, OLD_KEY) for its next segment.
        return done.stdout, {k: v for k, v in pairs if re.fullmatch(r"ZOHO_\w+|[A-Z]+_KEY", k)}

    def start_host(self, unit: str, index: int) -> None:
        argv = [a if a != "8000" else str(self.host_ports[index]) for a in exec_start(unit)]
        self.processes[f"host{index}"] = subprocess.Popen(
            argv,
            env=self.env,
            cwd=self.tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until_serving(f"http://127.0.0.1:{self.host_ports[index]}")

    def start_worker(self, unit: str) -> None:
        self.processes["worker"] = subprocess.Popen(
            exec_start(unit),
            env=self.env,
            cwd=self.tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)  # TimeoutStopSec=20
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart_all(self, units: list[str]) -> None:
        """``systemctl restart`` on every host, one host at a time (a rolling restart)."""
        for index in range(len(self.host_ports)):
            self.stop(f"host{index}")
            self.start_host(units[0], index)
            # As the doc says: the next host only once nginx takes this one back (fail_timeout).
            time.sleep(NGINX_FAIL_TIMEOUT + 1)
        self.stop("worker")
        self.start_worker(units[1])

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    name = f"deploy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(
        data_dir=tmp_path / "sandbox", datacenters_out=tmp_path / "datacenters.json"
    ) as sb:
        yield sb


class Traffic(threading.Thread):
    """Access-token requests through the proxy, back to back, until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[int] = []
        self.failures: list[str] = []
        self._stopping = threading.Event()
        self.start()

    def run(self) -> None:
        with httpx.Client(verify=False, timeout=15) as client:  # nginx's self-signed certificate
            while not self._stopping.is_set():
                try:
                    answer = client.post(self.url, headers={"Authorization": f"Bearer {API_KEY}"})
                    self.answers.append(answer.status_code)
                    if answer.status_code != 200:
                        self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                except httpx.TransportError as exc:
                    self.failures.append(repr(exc))
                time.sleep(0.02)

    def finish(self) -> None:
        self._stopping.set()
        self.join(timeout=30)


def nginx_config(tmp_path: Path, ports: list[int], listen: int) -> Path:
    [site] = blocks("nginx")
    cert, key = self_signed(tmp_path)
    site = site.replace("10.0.0.11:8000", f"127.0.0.1:{ports[0]}")
    site = site.replace("10.0.0.12:8000", f"127.0.0.1:{ports[1]}")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen} ssl;")
    site = site.replace("/etc/ssl/zoho-invoice/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/zoho-invoice/privkey.pem", str(key))
    assert "10.0.0." not in site and "/etc/ssl" not in site
    prefix = tmp_path / "nginx"
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    site = site.replace("/var/log/nginx/zoho-invoice.access.log", str(prefix / "logs" / "a.log"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n access_log off;\n client_body_temp_path {prefix}/tmp/body;\n"
        f" proxy_temp_path {prefix}/tmp/proxy;\n{site}\n}}\n"
    )
    return conf


@pytest.mark.timeout(400)
def test_deploy_doc_runs_as_written(
    tmp_path: Path, database_url: str, sandbox: RunningSandbox
) -> None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        missing("nginx is not installed (Debian: apt-get install nginx-light)")
    assert nginx is not None
    prepare, enable, watch, rotate = blocks("sh")
    units = blocks("ini")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    env.update(
        {
            "ZOHO_ENV_FILE": "",
            "ZOHO_CLIENT_ID": "1000.DEPLOYDOC",
            "ZOHO_CLIENT_SECRET": "deploy-doc-client-secret",
            "ZOHO_REDIRECT_URI": PUBLIC_URL + "/callback",
            "ZOHO_API_KEY": API_KEY,
            "ZOHO_METRICS_KEY": METRICS_KEY,
            "ZOHO_DATACENTERS": str(tmp_path / "datacenters.json"),
            "ZOHO_DATA_DIR": str(tmp_path / "data"),
            "ZOHO_PUBLIC_URL": PUBLIC_URL,
            "ZOHO_DATABASE_URL": database_url,
        }
    )
    fleet = Fleet(tmp_path, env, [free_port(), free_port()])

    # 1. Once: a key (the first line printed is ZOHO_ENCRYPTION_KEYS), then the schema.
    printed, _ = fleet.bash(prepare.splitlines()[0])
    key_entry = printed.strip()
    assert re.fullmatch(r"k\w+:[A-Za-z0-9+/]{43}=", key_entry), "keys generate printed no key"
    fleet.env["ZOHO_ENCRYPTION_KEYS"] = key_entry
    fleet.bash(prepare)
    settings = Settings(
        client_id="1000.DEPLOYDOC",
        client_secret="deploy-doc-client-secret",
        redirect_uri=PUBLIC_URL + "/callback",
        encryption_keys=key_entry,
        api_key=API_KEY,
        datacenters=tmp_path / "datacenters.json",
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url=PUBLIC_URL,
    )
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as web:
        connection_id = connect_via_web(web, sandbox.base_url, api_key=API_KEY, owner="ops-1")

    nginx_process: subprocess.Popen[bytes] | None = None
    try:
        # 2, 3. The units: "systemctl enable --now" is the test starting them.
        assert enable.strip().startswith("sudo systemctl enable --now")
        for index in range(2):
            fleet.start_host(units[0], index)
        fleet.start_worker(units[1])

        # 4. nginx in front of both hosts.
        listen = free_port()
        conf = nginx_config(tmp_path, fleet.host_ports, listen)
        check = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        nginx_process = subprocess.Popen(
            [nginx, "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        front = f"https://127.0.0.1:{listen}"
        token_url = f"{front}/api/connections/{connection_id}/access-token"
        with httpx.Client(verify=False, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get(front + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "nginx did not come up"
                time.sleep(0.1)
            auth = {"Authorization": f"Bearer {API_KEY}"}
            assert client.post(token_url, headers=auth).status_code == 200
            # The proxy's body limit answers before any host reads it (SECURITY 47, 51).
            too_big = client.post(token_url, headers=auth, content=b"x" * (1024 * 1024 + 1))
            assert too_big.status_code == 413

        # 5. What to watch, on host 1, as written (port 8000 → host 1's port).
        watched, _ = fleet.bash(watch.replace(":8000/", f":{fleet.host_ports[0]}/"))
        assert '"status":"ok"' in watched.replace(" ", "")
        assert "zoho_invoice_token_refreshes" in watched

        # 6. The key rotation, host by host, while requests flow through nginx.
        traffic = Traffic(token_url)
        segments = re.split(r"^sudo systemctl restart .*$", rotate, flags=re.M)
        assert len(segments) == 3, "the rotation restarts twice"
        for segment in segments[:-1]:
            _, exported = fleet.bash(segment)
            fleet.env.update(exported)
            fleet.restart_all(units)
            # What the segment set is what every process now reads.
        _, exported = fleet.bash(segments[-1])
        fleet.env.update(exported)
        assert "," not in fleet.env["ZOHO_ENCRYPTION_KEYS"]
        new_key_id = fleet.env["ZOHO_ENCRYPTION_KEYS"].split(":", 1)[0]
        assert new_key_id != key_entry.split(":", 1)[0]
        traffic.finish()
        assert traffic.answers, "no request went through during the rotation"
        assert traffic.failures == [], traffic.failures[:5]

        # Every row is sealed under the new key alone, and the fleet still works on it.
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            key_ids = set(conn.execute(select(ConnectionRow.key_id)).scalars())
        engine.dispose()
        assert key_ids == {new_key_id}
        with httpx.Client(verify=False, timeout=10) as client:
            answer = client.post(token_url, headers={"Authorization": f"Bearer {API_KEY}"})
            assert answer.status_code == 200, answer.text
    finally:
        if nginx_process is not None:
            nginx_process.send_signal(signal.SIGQUIT)
            try:
                nginx_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx_process.kill()
        fleet.stop_all()
