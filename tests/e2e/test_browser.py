"""End-to-end browser test: ``zoho-invoice demo`` as a real process (sandbox + service), driven
by Playwright with the system Chromium through the demo dashboard: Connect, pick a user at the
sandbox, Approve, see the connection, Disconnect."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import CHROMIUM_ARGS, free_port
from zoho_invoice._http import httpx

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CLI = [sys.executable, "-c", "from zoho_invoice.cli import main; main()"]


def test_demo_dashboard_connect_and_disconnect(chromium_path: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOHO_")}
    demo = subprocess.Popen(
        [*CLI, "demo", "--port", str(port), "--data-dir", str(tmp_path / ".zoho-invoice")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert demo.poll() is None, demo.stdout.read().decode() if demo.stdout else ""
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(url + "/")
                expect(page.locator("#no-connections")).to_be_visible()
                page.click("#connect")
                # At the sandbox's consent page: pick Franz (eu, one organization).
                page.wait_for_selector("input[name=user_id]")
                page.locator("label", has_text="franz@fischer.example").click()
                page.click("button[value=approve]")
                # us sends eu users to eu, where they approve again.
                page.wait_for_url("**/accounts/eu/oauth/v2/auth**")
                page.click("button[value=approve]")
                page.wait_for_url(url + "/?**")
                row = page.locator("tr.connection")
                expect(row).to_have_count(1)
                expect(row.locator(".location")).to_have_text("eu")
                expect(row.locator(".organization")).to_contain_text("Fischer Fahrraeder")
                expect(row).to_contain_text("active")
                page.screenshot(path=str(tmp_path / "dashboard-connected.png"), full_page=True)
                page.click("text=Disconnect")
                page.wait_for_url("**status=disconnected")
                expect(page.locator("tr.connection")).to_contain_text("revoked")
                page.screenshot(path=str(tmp_path / "dashboard-disconnected.png"), full_page=True)
            finally:
                browser.close()
        assert (tmp_path / "dashboard-connected.png").stat().st_size > 1000
        assert (tmp_path / ".zoho-invoice" / "demo.json").exists()
    finally:
        demo.terminate()
        try:
            demo.wait(timeout=10)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
