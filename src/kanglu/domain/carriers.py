"""The carrier registry and the rules that identify a carrier from an order's shipping data."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from kanglu.domain.shipping import ShippingService, normalise_name
from kanglu.domain.tracking_codes import TrackingCode


@attrs.frozen
class Carrier:
    """A carrier Kanglu can track: its stable code (part of the API), name and tracking page."""

    code: str
    name: str
    tracking_url_template: str | None = None
    families: frozenset[int] = frozenset()
    names: tuple[str, ...] = ()
    code_patterns: tuple[str, ...] = ()

    def tracking_url(self, code: TrackingCode) -> str | None:
        if not self.tracking_url_template:
            return None
        return self.tracking_url_template.format(code=code.value)

    def matches_code(self, code: TrackingCode) -> bool:
        return any(re.fullmatch(p, code.value) for p in self.code_patterns)


@attrs.frozen
class CarrierRegistry:
    """Every known carrier, and identification from what an order says about its shipping."""

    carriers: tuple[Carrier, ...]

    def get(self, code: str) -> Carrier | None:
        return next((c for c in self.carriers if c.code == code), None)

    def identify(
        self,
        shipping: ShippingService,
        tracking_code: TrackingCode | None = None,
        merchant_mappings: Mapping[str, str] | None = None,
    ) -> Carrier | None:
        """The carrier, or None when the evidence does not name one (never a guess).

        Precedence: the merchant's own mapping; a name that names a carrier; Tiny's family
        (`tipo`) when it names exactly one carrier; an S10 code for the Correios.
        """
        key = shipping.key
        if key and merchant_mappings and key in merchant_mappings:
            return self.get(merchant_mappings[key])
        for text in (shipping.carrier_name, shipping.freight_name, shipping.service_name):
            found = self._by_name(text)
            if found:
                return found
        if shipping.family is not None:
            by_family = [c for c in self.carriers if shipping.family in c.families]
            if len(by_family) == 1:
                return by_family[0]
        if tracking_code is not None:
            by_code = [c for c in self.carriers if c.matches_code(tracking_code)]
            if len(by_code) == 1:
                return by_code[0]
        return None

    def _by_name(self, text: str | None) -> Carrier | None:
        normalised = f" {normalise_name(text)} "
        if not normalised.strip():
            return None
        hits = {c for c in self.carriers for n in c.names if f" {n} " in normalised}
        return hits.pop() if len(hits) == 1 else None


def _carriers() -> Iterable[Carrier]:
    yield Carrier(
        code="correios",
        name="Correios",
        tracking_url_template="https://rastreamento.correios.com.br/app/index.php?objeto={code}",
        families=frozenset({1, 5}),
        names=("correios", "sedex", "pac", "mini envios", "carta registrada", "impresso"),
        code_patterns=(r"[A-Z]{2}\d{9}BR",),
    )
    yield Carrier(
        code="jadlog",
        name="Jadlog",
        tracking_url_template="https://www.jadlog.com.br/jadlog/tracking?cte={code}",
        families=frozenset({7}),
        names=("jadlog", "package", "expresso jadlog"),
    )
    yield Carrier(
        code="loggi",
        name="Loggi",
        tracking_url_template="https://www.loggi.com/rastreador/{code}",
        families=frozenset({17}),
        names=("loggi",),
    )
    yield Carrier(
        code="total_express",
        name="Total Express",
        tracking_url_template="https://tracking.totalexpress.com.br/poupup_track.php?pedido={code}",
        families=frozenset({8}),
        names=("total express", "totalexpress"),
    )
    yield Carrier(
        code="mercado_envios",
        name="Mercado Envios",
        families=frozenset({3}),
        names=("mercado envios", "mercadoenvios"),
    )


DEFAULT_REGISTRY = CarrierRegistry(tuple(_carriers()))
