"""End-to-end browser test: ``zoho-invoice demo`` as a real process (sandbox + service), driven
by Playwright with the system Chromium through the demo dashboard: Connect, pick a user at the
sandbox, Approve, see the connection and its organization's seeded invoices, page through them,
create one through the form, Disconnect.

``ZOHO_UPDATE_SCREENSHOTS=1`` also saves the dashboard to docs/screenshots/dashboard.png."""

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
        [
            *CLI,
            *("demo", "--port", str(port), "--sandbox-port", str(free_port())),
            *("--data-dir", str(tmp_path / ".zoho-invoice")),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # The first run seeds every simulated organization before the service starts.
        deadline = time.monotonic() + 60
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
                # The first sync of the new connection runs in the background: the panel says
                # so and the page reloads itself until the organization's latest invoices
                # show, newest first, ten a page.
                panel = page.locator("section.invoices")
                invoices = panel.locator("tr.invoice")
                expect(invoices).to_have_count(10)
                expect(panel.locator(".synced")).to_contain_text("syncing")
                page.screenshot(path=str(tmp_path / "dashboard-connected.png"), full_page=True)
                first_page = invoices.locator(".number").all_inner_texts()
                panel.locator("a[rel=next]").click()
                page.wait_for_url("**page=2**")
                expect(invoices).to_have_count(10)
                second_page = invoices.locator(".number").all_inner_texts()
                assert not set(first_page) & set(second_page)
                panel.locator("a[rel=prev]").click()
                page.wait_for_url("**page=1**")
                # Create an invoice through the form: it comes back on top, with a flash.
                panel.locator("summary", has_text="New invoice").click()
                form = panel.locator("form.invoice-form")
                form.locator("select[name=customer_id]").select_option(index=1)
                form.locator("select[name=item_id]").first.select_option(index=1)
                form.locator("input[name=quantity]").first.fill("3")
                form.locator("input[name=description]").nth(1).fill("Express delivery")
                form.locator("input[name=rate]").nth(1).fill("25")
                form.locator("button.create-invoice").click()
                page.wait_for_url("**created=**")
                expect(panel.locator(".flash")).to_contain_text("was created")
                expect(invoices.first).to_have_class("invoice created")
                if os.environ.get("ZOHO_UPDATE_SCREENSHOTS") == "1":
                    shot = Path(__file__).resolve().parents[2] / "docs/screenshots/dashboard.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    page.set_viewport_size({"width": 1280, "height": 900})
                    page.screenshot(path=str(shot), full_page=True)
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
