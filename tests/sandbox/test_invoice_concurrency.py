"""Integration test: the Invoice API simulator on a real port handles requests in worker threads,
so requests of one organization truly overlap and code 1070 (too many in flight) comes from load,
not only from scripted delays. A slow database is played by holding the store's lock."""

from __future__ import annotations

import threading

from api._sandbox import ALICE, mint
from zoho_invoice._http import httpx
from zoho_invoice_sandbox import running_sandbox
from zoho_invoice_sandbox.invoice import InvoiceSandboxControl


def test_concurrent_requests_overlap_and_the_eleventh_gets_1070() -> None:
    with running_sandbox() as sandbox, httpx.Client(base_url=sandbox.base_url) as http:
        alice = sandbox.world.directory.user_by_email(ALICE)
        assert alice is not None
        org = alice.organization_ids[0]
        control = InvoiceSandboxControl(http)
        control.seed(org, contacts=2, items=1, invoices=5)
        token = mint(http, alice.user_id)["access_token"]
        control.set_limits(concurrent=10)
        headers = {
            "Authorization": f"Zoho-oauthtoken {token}",
            "X-com-zoho-invoice-organizationid": org,
        }
        codes: list[int] = []
        answered = threading.Condition()

        def one() -> None:
            with httpx.Client(base_url=sandbox.base_url, timeout=30) as client:
                answer = client.get("/api/us/invoice/v3/invoices", headers=headers)
            with answered:
                codes.append(answer.json()["code"])
                answered.notify_all()

        threads = [threading.Thread(target=one) for _ in range(12)]
        store = sandbox.world.invoices
        with store.transaction():  # the database is busy: every handler waits for it
            for thread in threads:
                thread.start()
            with answered:
                # Ten are in flight, waiting; the other two are refused at once.
                answered.wait_for(lambda: len(codes) >= 2, timeout=10)
                early = sorted(codes)
        for thread in threads:
            thread.join(30)
        assert early == [1070, 1070]
        assert sorted(codes) == [0] * 10 + [1070, 1070]
