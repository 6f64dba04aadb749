"""Property test (integration): the mirror converges on Zoho's data whatever happens.

A hypothesis state machine plays a user working in Zoho (the sandbox in process): creates,
edits, status changes (sent, void, draft), payments and their removal, deletes of invoices,
payments, contacts and estimates, with the clock moving 0-3 s between steps (so several changes
share a second), interleaved with syncs, syncs that crash at a random call (before the request
reaches Zoho, or after Zoho answered and the answer is lost) and reconciliations. Pages hold 3
records, so listings cross many page boundaries while the set changes between runs, and the
cursor's overlap is 1 s (the sandbox and the mirror share a clock). After a final sync with
reconciliation, the mirror equals the sandbox record for record, field for field (each live row
at detail level, every other row marked deleted), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from mirror._support import Crash, Sandbox, assert_mirror_equals_sandbox, connect
from sandbox_support import NOW
from support import Clock
from zoho_invoice.mirror import RESOURCES, Mirror, MirrorSettings
from zoho_invoice.vault import Vault

LINES = [{"name": "Work", "rate": 100, "quantity": 1}]
index = st.integers(min_value=0, max_value=1_000)


def machine_for(vault: Vault) -> type[RuleBasedStateMachine]:
    examples = iter(range(1_000_000))

    class MirrorMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = Clock(NOW)
            self.sandbox = Sandbox(self.clock)
            # A connection per example: rows are keyed by connection, so examples share the
            # database without seeing each other.
            self.connection_id = connect(vault, self.sandbox, owner=f"owner-{next(examples)}")
            self.mirror = Mirror(
                vault,
                client_factory=self.sandbox.client,
                settings=MirrorSettings(per_page=3, overlap=1, reconcile_every=None),
                clock=self.clock,
            )
            self.ids: dict[str, list[str]] = {
                "contacts": [],
                "items": [],
                "invoices": [],
                "payments": [],
                "estimates": [],
            }
            self.serial = 0

        def teardown(self) -> None:
            try:
                self.sandbox.disarm()
                self.clock.advance(2)
                report = self.mirror.sync(self.connection_id, reconcile=True)
                assert report.outcome == "completed"
                assert_mirror_equals_sandbox(vault.engine, self.connection_id, self.sandbox)
            finally:
                self.sandbox.close()

        # -- helpers ------------------------------------------------------------------------

        def pick(self, kind: str, i: int) -> str | None:
            known = self.ids[kind]
            return known[i % len(known)] if known else None

        def name(self, prefix: str) -> str:
            self.serial += 1
            return f"{prefix} {self.serial}"

        def create(self, kind: str, path: str, key: str, id_key: str, body: Any) -> None:
            _status, answer = self.sandbox.call("POST", path, json=body)
            if answer.get("code") == 0:
                self.ids[kind].append(str(answer[key][id_key]))

        # -- a user in Zoho -----------------------------------------------------------------

        @rule()
        def create_contact(self) -> None:
            body = {"contact_name": self.name("Customer")}
            self.create("contacts", "/contacts", "contact", "contact_id", body)

        @rule()
        def create_item(self) -> None:
            body = {"name": self.name("Item"), "rate": 10}
            self.create("items", "/items", "item", "item_id", body)

        @rule(customer=index, rate=st.integers(min_value=1, max_value=500))
        def create_invoice(self, customer: int, rate: int) -> None:
            contact = self.pick("contacts", customer)
            if contact is None:
                return
            body = {"customer_id": contact, "line_items": [{"name": "Work", "rate": rate}]}
            self.create("invoices", "/invoices", "invoice", "invoice_id", body)

        @rule(customer=index)
        def create_estimate(self, customer: int) -> None:
            contact = self.pick("contacts", customer)
            if contact is None:
                return
            body = {"customer_id": contact, "line_items": LINES}
            self.create("estimates", "/estimates", "estimate", "estimate_id", body)

        @rule(i=index, text=st.sampled_from(["PO-1", "PO-2", "urgent"]))
        def edit_invoice(self, i: int, text: str) -> None:
            invoice = self.pick("invoices", i)
            if invoice is not None:
                self.sandbox.call("PUT", f"/invoices/{invoice}", json={"reference_number": text})

        @rule(i=index)
        def edit_contact(self, i: int) -> None:
            contact = self.pick("contacts", i)
            if contact is not None:
                body = {"contact_name": self.name("Renamed")}
                self.sandbox.call("PUT", f"/contacts/{contact}", json=body)

        @rule(i=index, change=st.sampled_from(["sent", "void", "draft"]))
        def change_status(self, i: int, change: str) -> None:
            invoice = self.pick("invoices", i)
            if invoice is not None:
                self.sandbox.call("POST", f"/invoices/{invoice}/status/{change}")

        @rule(i=index, part=st.sampled_from([1, 2]))
        def pay(self, i: int, part: int) -> None:
            invoice_id = self.pick("invoices", i)
            if invoice_id is None:
                return
            _status, body = self.sandbox.call("GET", f"/invoices/{invoice_id}")
            invoice = body.get("invoice")
            if not invoice or invoice["status"] in ("draft", "void", "paid"):
                return
            amount = round(float(invoice["balance"]) / part, 2)
            if amount <= 0:
                return
            payment = {
                "customer_id": invoice["customer_id"],
                "amount": amount,
                "invoices": [{"invoice_id": invoice_id, "amount_applied": amount}],
            }
            self.create("payments", "/customerpayments", "payment", "payment_id", payment)

        @rule(kind=st.sampled_from(["invoices", "payments", "contacts", "estimates"]), i=index)
        def delete(self, kind: str, i: int) -> None:
            record = self.pick(kind, i)
            if record is not None:
                path = "/customerpayments" if kind == "payments" else f"/{kind}"
                self.sandbox.call("DELETE", f"{path}/{record}")

        @rule(seconds=st.integers(min_value=0, max_value=3))
        def tick(self, seconds: int) -> None:
            self.clock.advance(seconds)

        # -- the mirror ---------------------------------------------------------------------

        @rule(
            resources=st.none() | st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=3),
            reconcile=st.booleans(),
        )
        def sync(self, resources: list[str] | None, reconcile: bool) -> None:
            report = self.mirror.sync(
                self.connection_id,
                resources=resources,  # type: ignore[arg-type]
                reconcile=reconcile,
            )
            assert report.outcome == "completed"

        @rule(at=st.integers(min_value=1, max_value=40), after=st.booleans())
        def crashing_sync(self, at: int, after: bool) -> None:
            self.sandbox.crash_at(at, after=after)
            try:
                self.mirror.sync(self.connection_id)
            except Crash:
                pass
            finally:
                self.sandbox.disarm()

    return MirrorMachine


@pytest.mark.timeout(600)
def test_the_mirror_converges_on_zohos_data(vault: Vault) -> None:
    run_state_machine_as_test(
        machine_for(vault),
        settings=settings(
            max_examples=int(os.environ.get("MIRROR_EXAMPLES", "20")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
