"""Models of an invoice's sub-resources: its payments, comments and history, templates, the
content of its e-mails, the bulk reminder's report and a downloaded attachment.

Zoho's documented examples show some ids and numbers as JSON numbers (``"payment_number": 7``)
where real answers carry text; both read as ``str`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ._base import Money, ZohoDate, ZohoID, ZohoModel


def _number_to_str(value: Any) -> Any:
    # A reference or payment number is text at Zoho ("INV-384", "7"); the docs print some as
    # numbers. A float would be no number anyone typed, so only integers are converted.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


#: Free text that Zoho's examples sometimes print as a number.
Text = Annotated[str | None, BeforeValidator(_number_to_str)]


class InvoicePayment(ZohoModel):
    """One payment applied to an invoice (``GET /invoices/{id}/payments``).

    ``invoice_payment_id`` names this application of the payment to the invoice: it is what
    ``delete_payment`` takes, not ``payment_id``.
    """

    payment_id: ZohoID
    invoice_payment_id: ZohoID | None = None
    invoice_id: ZohoID | None = None
    payment_number: Text = None
    payment_mode: str | None = None
    description: str | None = None
    date: ZohoDate = None
    reference_number: Text = None
    exchange_rate: Money = None
    amount: Money = None
    tax_amount_withheld: Money = None
    online_transaction_id: str | None = None
    is_single_invoice_payment: bool | None = None


class InvoiceComment(ZohoModel):
    """A comment, or a history entry Zoho wrote itself (``comment_type == "system"``)."""

    comment_id: ZohoID
    invoice_id: ZohoID | None = None
    description: str | None = None
    commented_by_id: ZohoID | None = None
    commented_by: str | None = None
    comment_type: str | None = None
    operation_type: str | None = None
    date: ZohoDate = None
    date_description: str | None = None
    time: str | None = None
    transaction_id: ZohoID | None = None
    transaction_type: str | None = None
    show_comment_to_clients: bool | None = None

    @property
    def is_history(self) -> bool:
        """True for the entries Zoho records by itself (created, sent, paid …)."""
        return self.comment_type == "system"


class InvoiceTemplate(ZohoModel):
    """An invoice PDF template of the organization (``GET /invoices/templates``)."""

    template_id: ZohoID
    template_name: str | None = None
    template_type: str | None = None


class EmailContact(ZohoModel):
    """A contact person the e-mail would go to (``to_contacts``)."""

    contact_person_id: ZohoID | None = None
    salutation: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    selected: bool | None = None


class EmailSender(ZohoModel):
    """An address the e-mail may be sent from (``from_emails``)."""

    user_name: str | None = None
    email: str | None = None
    selected: bool | None = None
    organization_contact_id: ZohoID | None = None
    is_org_email_id: bool | None = None


class EmailTemplateChoice(ZohoModel):
    """An e-mail template the content may be built from (``emailtemplates``)."""

    email_template_id: ZohoID
    name: str | None = None
    selected: bool | None = None


class EmailContent(ZohoModel):
    """What Zoho would send: ``GET /invoices/{id}/email`` and ``…/paymentreminder`` (``data``).

    Edit ``subject`` and ``body`` and pass them to ``email`` or ``send_payment_reminder``.
    """

    subject: str | None = None
    body: str | None = None
    customer_id: ZohoID | None = None
    customer_name: str | None = None
    entity_id: ZohoID | None = None
    file_name: str | None = None
    file_name_without_extension: str | None = None
    attach_pdf: bool | None = None
    to_contacts: list[EmailContact] = Field(default_factory=list)
    from_emails: list[EmailSender] = Field(default_factory=list)
    emailtemplates: list[EmailTemplateChoice] = Field(default_factory=list)
    bcc_mails: list[str] = Field(default_factory=list)
    error_list: list[Any] = Field(default_factory=list)

    @property
    def to_mail_ids(self) -> list[str]:
        """The addresses of the selected recipients, as ``to_mail_ids`` wants them."""
        return [c.email for c in self.to_contacts if c.email and c.selected is not False]


class ReminderSuccess(ZohoModel):
    message: str | None = None
    sent_count: int | None = None


class ReminderFailure(ZohoModel):
    message: str | None = None
    #: The invoice ids (comma separated) this failure is about.
    ids: str | None = None

    @property
    def invoice_ids(self) -> list[str]:
        return [part.strip() for part in (self.ids or "").split(",") if part.strip()]


class BulkReminderInfo(ZohoModel):
    """The report of ``POST /invoices/paymentreminder`` (``info``): sent, and not sent."""

    email_success_info: ReminderSuccess | None = None
    email_errors_info: list[ReminderFailure] = Field(default_factory=list)
    code: int | None = None

    @property
    def sent_count(self) -> int:
        return (self.email_success_info.sent_count or 0) if self.email_success_info else 0

    @property
    def failed_invoice_ids(self) -> list[str]:
        return [i for failure in self.email_errors_info for i in failure.invoice_ids]


@dataclass(frozen=True, slots=True)
class InvoiceAttachment:
    """A file attached to an invoice, as ``get_attachment`` downloads it."""

    content: bytes
    content_type: str
    file_name: str | None = None
