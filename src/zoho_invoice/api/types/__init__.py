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
    ContactPersonParams,
    CustomerPaymentParams,
    EstimateParams,
    InvoiceParams,
    ItemParams,
    LineItemParams,
    PaymentInvoiceParams,
    TaxParams,
)
from ._taxes import Currency, Tax, TaxGroup

__all__ = [
    "Contact",
    "ContactParams",
    "ContactPerson",
    "ContactPersonParams",
    "Currency",
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
    "Tax",
    "TaxGroup",
    "TaxParams",
    "User",
    "ZohoDate",
    "ZohoDateTime",
    "ZohoID",
    "ZohoModel",
    "ZohoParams",
]
