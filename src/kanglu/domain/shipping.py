"""How an ERP says an order ships: service, freight option, carrier name, Tiny's family."""

from __future__ import annotations

import re
import unicodedata

import attrs


def normalise_name(text: str | None) -> str:
    """Lower case, no accents, punctuation turned into single spaces: 'SEDEX - Contrato' and
    'sedex contrato' become the same key."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_only.lower()).split())


@attrs.frozen
class ShippingService:
    """The shipping data of one order, as the ERP gives it.

    `family` is Tiny's forma de envio `tipo` (0 Sem Frete, 1 Correios, 7 Jadlog…), which the
    order listing does not carry: it is filled from a per-connection cache of formas de envio.
    """

    service_id: int | None = None
    service_name: str | None = None
    freight_name: str | None = None
    carrier_name: str | None = None
    family: int | None = None
    tracking_url: str | None = None

    @property
    def key(self) -> str | None:
        """What a merchant's manual carrier mapping is keyed on: the service and freight
        names, else the carrier's name; None when the order says nothing about shipping."""
        parts = [normalise_name(self.service_name), normalise_name(self.freight_name)]
        key = " / ".join(p for p in parts if p)
        return key or normalise_name(self.carrier_name) or None

    @property
    def label(self) -> str:
        """The same, as the merchant wrote it, for pages."""
        parts = [p.strip() for p in (self.service_name, self.freight_name) if p and p.strip()]
        return " / ".join(parts) or (self.carrier_name or "").strip() or "(sem forma de envio)"

    def with_family(self, family: int | None) -> ShippingService:
        return attrs.evolve(self, family=family)


@attrs.frozen
class ShippingFamily:
    """A forma de envio of the merchant's ERP account, with its family (`tipo`)."""

    service_id: int
    name: str | None
    family: int | None
