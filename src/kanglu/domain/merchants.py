"""Merchants (Kanglu's customers) and their API keys."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.define(slots=False, eq=False)
class Merchant:
    name: str
    email: str
    password_hash: str | None
    created_at: datetime
    id: int | None = None


@attrs.define(slots=False, eq=False)
class ApiKey:
    """An API key, stored as a hash of the key; `prefix` lets the merchant tell keys apart."""

    merchant_id: int
    key_hash: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    id: int | None = None
