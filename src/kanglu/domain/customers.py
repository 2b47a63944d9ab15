"""Customers of a merchant, and the snapshot of a customer an ERP order carries."""

from __future__ import annotations

import re

import attrs

from kanglu.domain.documents import Document

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(text: str | None) -> str | None:
    """Lower-cased e-mail, or None when absent or not shaped like one (a typo is not a reason
    to refuse an order; the customer simply has no usable e-mail)."""
    if not text:
        return None
    candidate = text.strip().lower()
    return candidate if _EMAIL.match(candidate) and len(candidate) <= 254 else None


def normalise_phone(text: str | None) -> str | None:
    """Digits only (a leading + kept), or None when nothing is left."""
    if not text:
        return None
    digits = re.sub(r"\D", "", text)
    if len(digits) < 8:
        return None
    return ("+" + digits) if text.strip().startswith("+") else digits


def clean_text(text: str | None, limit: int = 255) -> str | None:
    if text is None:
        return None
    value = " ".join(str(text).split())
    return value[:limit] or None


@attrs.frozen
class Address:
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    district: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None

    def is_empty(self) -> bool:
        return not any(attrs.astuple(self))


@attrs.frozen
class CustomerData:
    """A customer as one ERP order describes it."""

    name: str
    document: Document | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    erp_customer_id: int | None = None


@attrs.define(slots=False, eq=False)
class Customer:
    """A merchant's customer, unique per (merchant, document)."""

    merchant_id: int
    name: str
    document: Document | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    erp_customer_id: int | None = None
    id: int | None = None

    @classmethod
    def from_data(cls, merchant_id: int, data: CustomerData) -> Customer:
        return cls(
            merchant_id=merchant_id,
            name=data.name,
            document=data.document,
            email=data.email,
            phone=data.phone,
            address=data.address,
            erp_customer_id=data.erp_customer_id,
        )

    def update_from(self, data: CustomerData) -> bool:
        """Take the newer data; a field the ERP left empty keeps what we knew. Returns whether
        anything changed, so an unchanged import writes nothing."""
        changes = {
            "name": data.name or self.name,
            "document": data.document or self.document,
            "email": data.email or self.email,
            "phone": data.phone or self.phone,
            "address": data.address if data.address and not data.address.is_empty() else self.address,
            "erp_customer_id": data.erp_customer_id or self.erp_customer_id,
        }
        changed = False
        for field, value in changes.items():
            if getattr(self, field) != value:
                setattr(self, field, value)
                changed = True
        return changed
