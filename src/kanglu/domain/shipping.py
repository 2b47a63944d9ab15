"""How an ERP says an order ships: service, freight option, carrier name, Tiny's family."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

import attrs


@functools.lru_cache(maxsize=4096)
def normalise_name(text: str | None) -> str:
    """Lower case, no accents, punctuation turned into single spaces: 'SEDEX - Contrato' and
    'sedex contrato' become the same key."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_only.lower()).split())


def shipping_key_of(label: str) -> str | None:
    """The mapping key of a shipping service written as pages show it ("SEDEX / Correios"):
    each part normalised, as `ShippingService.key` builds it. None when nothing is left."""
    parts: list[str] = []
    for part in label.split("/"):
        normalised = normalise_name(part)
        if normalised and normalised not in parts:
            parts.append(normalised)
    return " / ".join(parts) or None


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

    def _named_parts(self) -> list[tuple[str, str]]:
        """(normalised, as written) for the service, freight and carrier names, each once."""
        parts: dict[str, str] = {}
        for raw in (self.service_name, self.freight_name, self.carrier_name):
            normalised = normalise_name(raw)
            if normalised and normalised not in parts:
                parts[normalised] = (raw or "").strip()
        return list(parts.items())

    @property
    def key(self) -> str | None:
        """What a merchant's manual carrier mapping is keyed on: the service, freight and
        carrier names the merchant sees, normalised; None when the order says nothing about
        shipping. The carrier's name is part of it because a generic forma de envio
        ("Transportadora / Normal") covers several carriers told apart only by that name."""
        return " / ".join(n for n, _ in self._named_parts()) or None

    @property
    def label(self) -> str:
        """The same, as the merchant wrote it, for pages."""
        return " / ".join(w for _, w in self._named_parts()) or "(sem forma de envio)"

    def with_family(self, family: int | None) -> ShippingService:
        return attrs.evolve(self, family=family)


@attrs.frozen
class ShippingFamily:
    """A forma de envio of the merchant's ERP account, with its family (`tipo`)."""

    service_id: int
    name: str | None
    family: int | None


def families_by_service(families: Mapping[int, ShippingFamily]) -> dict[int, int | None]:
    """The family of each cached shipping service, by its id: what an import needs of them."""
    return {service_id: f.family for service_id, f in families.items()}
