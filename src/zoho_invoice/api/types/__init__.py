"""Typed models of the Zoho Invoice API: responses (ids as ``str``, money as ``Decimal``) and
request bodies (``…Params``)."""

from ._base import Money, ZohoDate, ZohoDateTime, ZohoID, ZohoModel, ZohoParams
from ._models import (
    Contact,
    ContactPerson,
    CustomerPayment,
    Estimate,
    Invoice,
    Item,
    LineItem,
    Organization,
    PageContext,
    PaymentInvoice,
    User,
)
from ._params import (
    ContactParams,
    CustomerPaymentParams,
    EstimateParams,
    InvoiceParams,
    ItemParams,
    LineItemParams,
    PaymentInvoiceParams,
)

__all__ = [
    "Contact",
    "ContactParams",
    "ContactPerson",
    "CustomerPayment",
    "CustomerPaymentParams",
    "Estimate",
    "EstimateParams",
    "Invoice",
    "InvoiceParams",
    "Item",
    "ItemParams",
    "LineItem",
    "LineItemParams",
    "Money",
    "Organization",
    "PageContext",
    "PaymentInvoice",
    "PaymentInvoiceParams",
    "User",
    "ZohoDate",
    "ZohoDateTime",
    "ZohoID",
    "ZohoModel",
    "ZohoParams",
]
