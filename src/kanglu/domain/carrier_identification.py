"""The identification engine: the rules that name a carrier from an order's shipping data.

The carriers themselves (names, families, hosts, code shapes) are data, in domain/carriers.py.

What an order says about its shipping
-------------------------------------
A `ShippingService` (domain/shipping.py) holds Tiny's forma de envio (id, name and `tipo`,
the *family*), the forma de frete name, `transportador.nome` and Tiny's `urlRastreamento`;
the order also has a tracking code. Each of these can be *evidence* for a carrier:

- a **name**: one of the carrier's names or service names (SEDEX, PAC, Mini Envios, `.Package`…)
  in any of the three names, compared after normalisation (case, accents, punctuation);
- the **family** (`tipo`), when it denotes one carrier (1 and 5 Correios, 7 Jadlog,
  8 Total Express, 17 Loggi, 3 Mercado Envios, 12 Shopee, 19 Amazon, 11/20/21 Magalu…);
  the generic families denote none: 0 Sem Frete, 2 Transportadora (the name decides),
  6 Customizado, 10 Gateway (an intermediary), 29 Forma Teste;
- the **tracking URL** when its host is on a carrier's own domain;
- the **tracking code**, only for shapes no other carrier uses: UPU S10 with country BR
  (Correios; `TrackingCode.parse` has already checked its digit), `BR` + 13 digits with an
  optional letter (Shopee Xpress), `TBA` + 12 digits (Amazon Logistics). Plain digit runs
  (Jadlog's 14-digit CT-e numbers, Mercado Envios' 11-digit shipment ids, J&T's waybills)
  are shared by too many carriers and invoice numbers to name anyone, so they are not used.

Intermediaries (Melhor Envio, Frenet, Intelipost, SuperFrete, Manda Bem…) are not carriers:
"Jadlog via Melhor Envio" is Jadlog, and "Melhor Envio" alone names nobody.

Specific and platform evidence
------------------------------
Marketplace logistics programs (Mercado Envios, Shopee, Amazon, Magalu, Americanas…) and
shipping platforms (Kangu, Mandaê) hand many parcels to other carriers: a Mercado Envios
order can travel with the Correios under an S10 code, and Shopee's family covers J&T and
Correios as well as Shopee Xpress. Their names, families and hosts are therefore *platform*
evidence, which yields to *specific* evidence (a carrier's own name, a single-carrier family
such as 1 Correios, its domain, a distinctive code). Kangu is both an intermediary and a
carrier code: it is treated as a platform, so "Correios via Kangu" is the Correios and
"Kangu" alone is Kangu. A platform's own fleet name ("Shopee Xpress", "Amazon DBA") is
specific evidence.

Precedence
----------
1. The merchant's own mapping for the shipping service's key wins over every rule (a mapping
   to a code the registry no longer knows is ignored).
2. Specific evidence: if it names exactly one carrier, that carrier; if it names two or more
   ("Correios" with a Jadlog family, "Jadlog" with an S10 code), none.
3. Platform evidence, the same way: exactly one carrier, or none.
4. Nothing else: no match is *transportadora não identificada*, never a guess.

Speed: the registry is indexed once (phrases by first word, families, hosts, one regular
expression for the code shapes), so a name costs a dictionary lookup per word whatever the
number of carriers; and the evidence of a set of names is cached, since an account has few
shipping services and many orders.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from kanglu.domain.shipping import ShippingService, normalise_name
from kanglu.domain.tracking_codes import TrackingCode

_NAME_CACHE_SIZE = 4096


@attrs.frozen
class Carrier:
    """A carrier Kanglu can track: its stable code (part of the API), name and tracking page.

    `names` and `services` are normalised phrases (see `normalise_name`); a service written
    with a leading dot (`.package`) only matches with its dot, as Jadlog writes it.
    `code_patterns` are the tracking-code shapes that only this carrier uses.
    `platform` marks a marketplace program or shipping platform that hands parcels to other
    carriers; `fleet_names` are the names of its own delivery fleet.
    """

    code: str
    name: str
    tracking_url_template: str | None = None
    families: frozenset[int] = frozenset()
    names: tuple[str, ...] = ()
    code_patterns: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    platform: bool = False
    fleet_names: tuple[str, ...] = ()

    def tracking_url(self, code: TrackingCode) -> str | None:
        if not self.tracking_url_template:
            return None
        return self.tracking_url_template.format(code=code.value)

    def matches_code(self, code: TrackingCode) -> bool:
        return any(re.fullmatch(p, code.value) for p in self.code_patterns)


# "Não rastrear": what a merchant maps store pickup or the shop's own delivery to. Orders of
# such a service are imported and kept out of tracking.
NOT_TRACKED = Carrier(code="none", name="Não rastrear")


class EvidenceSource(enum.Enum):
    NAME = "name"
    FAMILY = "family"
    URL = "url"
    CODE = "code"


@attrs.frozen
class Evidence:
    """One hint that the order ships with `carrier`, and how strong it is."""

    carrier: Carrier
    source: EvidenceSource
    detail: str
    specific: bool

    def describe(self) -> str:
        """For the merchant (pt-BR)."""
        if self.source is EvidenceSource.NAME:
            return f"pelo nome “{self.detail}”"
        if self.source is EvidenceSource.FAMILY:
            return f"pelo tipo {self.detail} da forma de envio"
        if self.source is EvidenceSource.URL:
            return f"pelo link de rastreamento ({self.detail})"
        return "pelo formato do código de rastreamento"


@attrs.frozen
class Identification:
    """The carrier (or None), the evidence it rests on, and a reason the merchant can read."""

    carrier: Carrier | None
    evidence: tuple[Evidence, ...] = ()
    by_merchant: bool = False

    @property
    def reason(self) -> str:
        """pt-BR; built on demand, since the importer only needs the carrier."""
        if self.by_merchant:
            return "escolhida pelo lojista para esta forma de envio"
        if self.carrier is not None:
            tier = [e for e in self.evidence if e.carrier == self.carrier]
            return "identificada " + ", ".join(dict.fromkeys(e.describe() for e in tier))
        for specific in (True, False):
            named = list(dict.fromkeys(e.carrier.name for e in self.evidence if e.specific is specific))
            if len(named) > 1:
                return f"transportadora não identificada: os dados indicam mais de uma ({', '.join(named)})"
        return "transportadora não identificada: nada na forma de envio indica a transportadora"


# Punctuation that carries meaning survives normalisation as a word:
# - a dot-prefixed service (".Package", ".Com") becomes "dotpackage", so that the word
#   "package" or "com" alone names nobody;
# - an ampersand between two letters ("J&T") becomes "jandt", so that "J. T. Transportes"
#   (normalised "j t transportes") is not J&T.
_DOT_WORD = "dot"
_AMPERSAND = re.compile(r"(?<![a-z0-9])([a-z])\s*&\s*([a-z])(?![a-z0-9])")
# J&T as merchants write it without the ampersand: "JeT", "J e T". Case-sensitive on purpose:
# "Jet Express" / "JET" is another company and must not become J&T.
_J_E_T = re.compile(r"(?<![A-Za-z0-9])J(?:e| e )T(?![A-Za-z0-9])")
_WORD = re.compile(r"[a-z0-9]+")


def _internal(phrase: str) -> str:
    """A registry phrase as it appears in normalised text."""
    if phrase.startswith("."):
        phrase = _DOT_WORD + phrase[1:]
    return _AMPERSAND.sub(r"\1and\2", phrase)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _host_of(url: str) -> str | None:
    text = url.strip()
    if not text:
        return None
    if "//" not in text:
        text = "//" + text  # Tiny's urlRastreamento sometimes comes without a scheme
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


@attrs.frozen
class CarrierRegistry:
    """Every known carrier, and identification from what an order says about its shipping."""

    carriers: tuple[Carrier, ...]
    intermediaries: tuple[str, ...] = ()
    _by_code: dict[str, Carrier] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _aliases: dict[str, tuple[Carrier, bool, str]] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _starts: dict[str, tuple[int, ...]] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _intermediaries: frozenset[str] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _dot_re: re.Pattern[str] | None = attrs.field(init=False, repr=False, eq=False, hash=False)
    _families: dict[int, Carrier] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _hosts: dict[str, Carrier] = attrs.field(init=False, repr=False, eq=False, hash=False)
    _code_re: re.Pattern[str] | None = attrs.field(init=False, repr=False, eq=False, hash=False)
    _name_evidence: Callable[..., tuple[Evidence, ...]] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        by_code: dict[str, Carrier] = {}
        aliases: dict[str, tuple[Carrier, bool, str]] = {}  # phrase -> carrier, specific, as shown
        families: dict[int, Carrier] = {}
        hosts: dict[str, Carrier] = {}
        code_groups: list[str] = []
        dot_words: set[str] = set()

        def claim(table: dict[Any, Any], key: object, carrier: Carrier, value: object, what: str) -> None:
            if key in table:
                raise ValueError(f"{what} {key!r} claimed twice (by {carrier.code})")
            table[key] = value

        for carrier in self.carriers:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", carrier.code):
                raise ValueError(f"carrier code {carrier.code!r} must be lowercase, digits and underscores")
            claim(by_code, carrier.code, carrier, carrier, "carrier code")
            spoken = [(n, not carrier.platform) for n in (*carrier.names, *carrier.services)]
            spoken += [(n, True) for n in carrier.fleet_names]
            for shown, specific in spoken:
                if shown.startswith("."):
                    dot_words.add(shown[1:])
                phrase = _internal(shown)
                if normalise_name(phrase) != phrase:
                    raise ValueError(f"name {shown!r} of {carrier.code} is not normalised")
                claim(aliases, phrase, carrier, (carrier, specific, shown), "name")
            for family in carrier.families:
                claim(families, family, carrier, carrier, "family")
            for host in carrier.hosts:
                claim(hosts, host.lower(), carrier, carrier, "host")
            if carrier.code_patterns:
                alternatives = "|".join(f"(?:{p})" for p in carrier.code_patterns)
                code_groups.append(f"(?P<{carrier.code}>{alternatives})")
        intermediaries = {normalise_name(i) for i in self.intermediaries} - set(aliases)

        # Phrase lengths (in words) by first word, longest first: the scan looks up only the
        # phrases that can start at a word, and takes the longest ("shopee xpress", not "shopee").
        lengths: dict[str, set[int]] = {}
        for phrase in (*aliases, *intermediaries):
            phrase_words = phrase.split(" ")
            lengths.setdefault(phrase_words[0], set()).add(len(phrase_words))
        starts = {first: tuple(sorted(n, reverse=True)) for first, n in lengths.items()}
        dot_re = None
        if dot_words:
            words = "|".join(sorted(map(re.escape, dot_words)))
            dot_re = re.compile(r"(?<![a-z0-9])\.(" + words + r")(?![a-z0-9])")
        code_re = re.compile("|".join(code_groups)) if code_groups else None

        set_ = functools.partial(object.__setattr__, self)
        set_("_by_code", by_code)
        set_("_aliases", aliases)
        set_("_starts", starts)
        set_("_intermediaries", frozenset(intermediaries))
        set_("_dot_re", dot_re)
        set_("_families", families)
        set_("_hosts", hosts)
        set_("_code_re", code_re)
        set_("_name_evidence", functools.lru_cache(maxsize=_NAME_CACHE_SIZE)(self._scan_names))

    # -- lookup ---------------------------------------------------------------------------

    def get(self, code: str) -> Carrier | None:
        """The carrier of that code; `none` is NOT_TRACKED, a merchant's choice only (never
        identified by a rule, never listed among the carriers)."""
        return self._by_code.get(code) or (NOT_TRACKED if code == NOT_TRACKED.code else None)

    def __iter__(self) -> Iterator[Carrier]:
        return iter(self.carriers)

    def __len__(self) -> int:
        return len(self.carriers)

    # -- identification -------------------------------------------------------------------

    def identify(
        self,
        shipping: ShippingService,
        tracking_code: TrackingCode | None = None,
        merchant_mappings: Mapping[str, str] | None = None,
    ) -> Carrier | None:
        """The carrier, or None when the evidence does not name exactly one (never a guess).
        See the module docstring for the precedence."""
        return self.explain(shipping, tracking_code, merchant_mappings).carrier

    def explain(
        self,
        shipping: ShippingService,
        tracking_code: TrackingCode | None = None,
        merchant_mappings: Mapping[str, str] | None = None,
    ) -> Identification:
        """`identify`, with the evidence it used and a reason in Portuguese."""
        if merchant_mappings:
            key = shipping.key
            mapped = self.get(merchant_mappings[key]) if key and key in merchant_mappings else None
            if mapped is not None:
                return Identification(mapped, by_merchant=True)

        evidence = list(self._name_evidence(shipping.carrier_name, shipping.service_name, shipping.freight_name))
        if shipping.family is not None:
            by_family = self._families.get(shipping.family)
            if by_family is not None:
                evidence.append(
                    Evidence(by_family, EvidenceSource.FAMILY, str(shipping.family), not by_family.platform)
                )
        if shipping.tracking_url:
            by_host = self._by_host(shipping.tracking_url)
            if by_host is not None:
                evidence.append(by_host)
        if tracking_code is not None and self._code_re is not None:
            match = self._code_re.fullmatch(tracking_code.value)
            if match is not None and match.lastgroup is not None:
                evidence.append(Evidence(self._by_code[match.lastgroup], EvidenceSource.CODE, tracking_code.value, True))
        return _decide(tuple(evidence))

    def _scan_names(self, *names: str | None) -> tuple[Evidence, ...]:
        found: list[Evidence] = []
        for name in names:
            if not name:
                continue
            words = self._words(name)
            i, end = 0, len(words)
            while i < end:
                step = 1
                # Longest phrase first: "shopee xpress" before "shopee".
                for length in self._starts.get(words[i], ()):
                    if i + length <= end:
                        phrase = " ".join(words[i : i + length]) if length > 1 else words[i]
                        entry = self._aliases.get(phrase)
                        if entry is not None or phrase in self._intermediaries:
                            if entry is not None:  # an intermediary is consumed and names nobody
                                carrier, specific, shown = entry
                                found.append(Evidence(carrier, EvidenceSource.NAME, shown, specific))
                            step = length
                            break
                i += step
        return tuple(found)

    def _words(self, name: str) -> list[str]:
        """The name's normalised words, with the meaningful punctuation kept as words."""
        if "J" in name:
            name = _J_E_T.sub("J&T", name)
        text = name.lower() if name.isascii() else _fold(name)
        if "&" in text:
            text = _AMPERSAND.sub(r" \1and\2 ", text)
        if "." in text and self._dot_re is not None:
            text = self._dot_re.sub(lambda m: f" {_DOT_WORD}{m.group(1)} ", text)
        return _WORD.findall(text)

    def _by_host(self, url: str) -> Evidence | None:
        host = _host_of(url)
        if not host:
            return None
        labels = host.lower().split(".")
        for start in range(len(labels) - 1):
            carrier = self._hosts.get(".".join(labels[start:]))
            if carrier is not None:
                return Evidence(carrier, EvidenceSource.URL, host, not carrier.platform)
        return None


def _decide(evidence: tuple[Evidence, ...]) -> Identification:
    if not evidence:
        return _NOTHING
    for specific in (True, False):
        named = {e.carrier.code: e.carrier for e in evidence if e.specific is specific}
        if len(named) == 1:
            return Identification(next(iter(named.values())), evidence)
        if len(named) > 1:
            return Identification(None, evidence)
    return Identification(None, evidence)


_NOTHING = Identification(None)
