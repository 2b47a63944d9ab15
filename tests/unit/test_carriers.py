"""Carrier identification: the case table, the registry's integrity and the rules' properties."""

from __future__ import annotations

import unicodedata

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.domain.carriers import DEFAULT_REGISTRY, Carrier, CarrierRegistry
from kanglu.domain.shipping import ShippingService
from kanglu.domain.tracking_codes import TrackingCode
from tests.unit.carrier_cases import AMAZON_CODE, CASES, S10_SEDEX, SHOPEE_CODE, Case

CONTRACT_CODES = {
    "correios", "jadlog", "loggi", "total_express", "jt_express", "mercado_envios", "azul_cargo", "braspress",
    "sequoia", "mandae", "shopee_xpress", "amazon", "kangu", "magalu_entregas",
}
# Tiny's generic families: they denote no carrier on their own.
GENERIC_FAMILIES = {0: "Sem Frete", 2: "Transportadora", 6: "Customizado", 10: "Gateway", 29: "Forma Teste"}


def identified(case: Case) -> str | None:
    carrier = DEFAULT_REGISTRY.identify(case.shipping, case.tracking_code, case.mappings)
    return carrier.code if carrier else None


# -- the table --------------------------------------------------------------------------------


def test_the_table_is_big_and_varied_enough() -> None:
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES), "duplicate cases"
    unknown = [c for c in CASES if c.expected is None]
    assert len(unknown) >= 30
    assert {c.expected for c in CASES} >= CONTRACT_CODES


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_identification_case(case: Case) -> None:
    result = DEFAULT_REGISTRY.explain(case.shipping, case.tracking_code, case.mappings)
    got = result.carrier.code if result.carrier else None
    assert got == case.expected, f"{case.why or case.id}: got {got} ({result.reason})"


def test_no_case_gets_a_wrong_carrier() -> None:
    """Stricter than 'all right' in spirit: a wrong carrier is worse than none; list them all."""
    wrong = [(c.id, identified(c)) for c in CASES if identified(c) is not None and identified(c) != c.expected]
    assert wrong == []


# -- the registry -----------------------------------------------------------------------------


def test_contract_codes_exist_and_codes_are_lowercase_and_unique() -> None:
    codes = [c.code for c in DEFAULT_REGISTRY]
    assert len(codes) == len(set(codes))
    assert CONTRACT_CODES <= set(codes)
    assert all(code == code.lower() and " " not in code for code in codes)


def test_every_tiny_family_is_a_carrier_or_known_generic() -> None:
    by_family = {f: c.code for c in DEFAULT_REGISTRY for f in c.families}
    assert set(by_family) | set(GENERIC_FAMILIES) == set(range(32))
    assert not set(by_family) & set(GENERIC_FAMILIES)
    assert by_family[1] == by_family[5] == "correios"
    assert (by_family[7], by_family[8], by_family[17]) == ("jadlog", "total_express", "loggi")
    assert (by_family[3], by_family[12], by_family[19], by_family[23]) == (
        "mercado_envios", "shopee_xpress", "amazon", "mandae")
    assert by_family[11] == by_family[20] == by_family[21] == "magalu_entregas"


@pytest.mark.parametrize("family", sorted(GENERIC_FAMILIES))
def test_a_generic_family_alone_names_nobody(family: int) -> None:
    assert DEFAULT_REGISTRY.identify(ShippingService(family=family)) is None


def test_tracking_url_templates_are_https_and_take_the_code() -> None:
    code = TrackingCode.parse(S10_SEDEX)
    for carrier in DEFAULT_REGISTRY:
        if carrier.tracking_url_template is None:
            assert carrier.tracking_url(code) is None
            continue
        url = carrier.tracking_url(code)
        assert url is not None and url.startswith("https://") and code.value in url


def test_correios_tracking_url_and_code_shape() -> None:
    correios = DEFAULT_REGISTRY.get("correios")
    assert correios is not None
    code = TrackingCode.parse(S10_SEDEX)
    assert code.is_s10 and correios.matches_code(code)
    assert correios.tracking_url(code) == f"https://rastreamento.correios.com.br/app/index.php?objeto={S10_SEDEX}"
    assert not correios.matches_code(TrackingCode.parse(SHOPEE_CODE))
    assert DEFAULT_REGISTRY.get("nobody") is None


def test_distinctive_code_shapes_belong_to_one_carrier_each() -> None:
    for value, expected in ((S10_SEDEX, "correios"), (SHOPEE_CODE, "shopee_xpress"), (AMAZON_CODE, "amazon")):
        code = TrackingCode.parse(value)
        assert [c.code for c in DEFAULT_REGISTRY if c.matches_code(code)] == [expected]


def test_a_foreign_s10_code_is_not_taken_for_the_correios() -> None:
    # Same S10 shape and check digit, another country's postal operator.
    foreign = TrackingCode.parse(S10_SEDEX[:-2] + "CN")
    assert foreign.is_s10 and DEFAULT_REGISTRY.identify(ShippingService(), foreign) is None


@pytest.mark.parametrize(
    "broken, message",
    [
        ((Carrier("a", "A", names=("x",)), Carrier("b", "B", names=("x",))), "claimed twice"),
        ((Carrier("a", "A", families=frozenset({1})), Carrier("b", "B", families=frozenset({1}))), "claimed twice"),
        ((Carrier("a", "A"), Carrier("a", "A2")), "claimed twice"),
        ((Carrier("a", "A", names=("Not Normalised",)),), "not normalised"),
        ((Carrier("A-b", "A"),), "lowercase"),
    ],
)
def test_a_registry_with_clashing_or_sloppy_entries_is_refused(broken: tuple[Carrier, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CarrierRegistry(broken)


def test_explain_gives_the_reason_in_portuguese() -> None:
    sedex = DEFAULT_REGISTRY.explain(ShippingService(service_name="Correios", freight_name="SEDEX"))
    assert sedex.carrier is not None and sedex.reason.startswith("identificada pelo nome")
    clash = DEFAULT_REGISTRY.explain(ShippingService(service_name="Correios", family=7))
    assert clash.carrier is None and "mais de uma" in clash.reason and "Jadlog" in clash.reason
    nothing = DEFAULT_REGISTRY.explain(ShippingService(service_name="Motoboy"))
    assert nothing.carrier is None and nothing.reason.startswith("transportadora não identificada")
    mapped = DEFAULT_REGISTRY.explain(ShippingService(service_name="Motoboy"), None, {"motoboy": "loggi"})
    assert mapped.by_merchant and mapped.carrier == DEFAULT_REGISTRY.get("loggi")


# -- properties -------------------------------------------------------------------------------

ACCENTS = "\u0301\u0300\u0302\u0303\u0308\u0327"  # acute, grave, circumflex, tilde, diaeresis, cedilla
SEPARATORS = [" ", "  ", " - ", "/", "_", ".", " | ", ", ", " + ", ":"]
EDGES = ["", " ", "*", "(", ")", "!", "-", "[", "]", "  ", "\t"]


def _spoken_names() -> list[tuple[str, str]]:
    """(carrier code, one of its names) for every plain name in the registry: the noise test
    leaves out the dot-prefixed services, whose dot is meaningful."""
    found = []
    for carrier in DEFAULT_REGISTRY:
        for name in (*carrier.names, *carrier.services, *carrier.fleet_names, carrier.name):
            if not name.startswith("."):
                found.append((carrier.code, name))
    return found


SPOKEN = _spoken_names()


@st.composite
def noisy(draw: st.DrawFn, text: str) -> str:
    """The same name as a merchant might type it: any case, stray accents, other separators."""
    words = text.split()
    out = []
    for word in words:
        letters = []
        for char in word:
            char = char.upper() if draw(st.booleans()) else char.lower()
            if char.isalpha() and draw(st.integers(0, 4)) == 0:
                char = unicodedata.normalize("NFC", char + draw(st.sampled_from(ACCENTS)))
            letters.append(char)
        out.append("".join(letters))
    joined = out[0]
    for word in out[1:]:
        joined += draw(st.sampled_from(SEPARATORS)) + word
    return draw(st.sampled_from(EDGES)) + joined + draw(st.sampled_from(EDGES))


@st.composite
def noisy_names(draw: st.DrawFn) -> tuple[str, str, str]:
    code, name = draw(st.sampled_from(SPOKEN))
    return code, name, draw(noisy(name))


@settings(max_examples=400)
@given(noisy_names(), st.sampled_from(["service_name", "freight_name", "carrier_name"]))
def test_a_carrier_name_with_case_accent_and_punctuation_noise_identifies_it(
    picked: tuple[str, str, str], field: str
) -> None:
    code, clean, dirty = picked
    expected = DEFAULT_REGISTRY.get(code)
    assert DEFAULT_REGISTRY.identify(ShippingService(**{field: clean})) == expected
    assert DEFAULT_REGISTRY.identify(ShippingService(**{field: dirty})) == expected, dirty


@settings(max_examples=200)
@given(noisy_names(), st.sampled_from(["via Melhor Envio", "- Frenet", "(Intelipost)", "SuperFrete"]))
def test_an_intermediary_beside_a_name_changes_nothing(picked: tuple[str, str, str], intermediary: str) -> None:
    code, _, dirty = picked
    assert DEFAULT_REGISTRY.identify(ShippingService(service_name=f"{dirty} {intermediary}")).code == code


TEXTS = st.one_of(st.none(), st.sampled_from([n for _, n in SPOKEN] + ["Transportadora", "Normal", ""]), st.text(max_size=30))
CODES = st.one_of(st.none(), st.sampled_from([S10_SEDEX, SHOPEE_CODE, AMAZON_CODE, "10843000123456", "XYZ-1"]))
shippings = st.builds(
    ShippingService,
    service_id=st.one_of(st.none(), st.integers(1, 99)),
    service_name=TEXTS,
    freight_name=TEXTS,
    carrier_name=TEXTS,
    family=st.one_of(st.none(), st.integers(0, 40)),
    tracking_url=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["https://www.jadlog.com.br/x", "loggi.com/r"])),
)


@given(shippings, CODES, st.sampled_from(sorted(c.code for c in DEFAULT_REGISTRY)))
def test_the_merchants_mapping_always_wins(shipping: ShippingService, code: str | None, chosen: str) -> None:
    tracking = TrackingCode.parse(code) if code else None
    key = shipping.key
    if key is None:
        assert DEFAULT_REGISTRY.identify(shipping, tracking, {"anything": chosen}) == (
            DEFAULT_REGISTRY.identify(shipping, tracking)
        )
    else:
        assert DEFAULT_REGISTRY.identify(shipping, tracking, {key: chosen}) == DEFAULT_REGISTRY.get(chosen)


@given(shippings, CODES)
def test_identification_never_raises_and_is_deterministic(shipping: ShippingService, code: str | None) -> None:
    tracking = TrackingCode.parse(code) if code else None
    first = DEFAULT_REGISTRY.explain(shipping, tracking)
    assert DEFAULT_REGISTRY.explain(shipping, tracking) == first
    # A fresh registry (no cache) agrees with the cached one.
    assert CarrierRegistry(DEFAULT_REGISTRY.carriers, DEFAULT_REGISTRY.intermediaries).explain(shipping, tracking) == first
    assert first.carrier is None or first.carrier in DEFAULT_REGISTRY.carriers


@given(shippings)
def test_a_generic_name_added_to_the_evidence_never_changes_the_answer(shipping: ShippingService) -> None:
    before = DEFAULT_REGISTRY.identify(shipping)
    vaguer = attrs.evolve(shipping, freight_name=f"{shipping.freight_name or ''} Expresso Normal Frete Grátis")
    assert DEFAULT_REGISTRY.identify(vaguer) == before


# -- the shipping key the merchant's mapping uses ---------------------------------------------


def test_shipping_key_is_what_the_merchant_sees_normalised() -> None:
    typed = ShippingService(service_name="Correios ", freight_name="SEDEX - Contrato")
    again = ShippingService(service_name="CORREIOS", freight_name="sedex contrato")
    assert typed.key == again.key == "correios / sedex contrato"
    assert typed.label == "Correios / SEDEX - Contrato"


def test_shipping_key_tells_carriers_of_a_generic_service_apart() -> None:
    braspress = ShippingService(service_name="Transportadora", freight_name="Normal", carrier_name="Braspress")
    silva = ShippingService(service_name="Transportadora", freight_name="Normal", carrier_name="Transportes Silva")
    assert braspress.key != silva.key
    assert silva.label == "Transportadora / Normal / Transportes Silva"


def test_shipping_key_names_each_part_once_and_is_none_without_names() -> None:
    assert ShippingService(service_name="Jadlog", carrier_name="JADLOG").key == "jadlog"
    assert ShippingService(carrier_name="Braspress").key == "braspress"
    assert ShippingService(family=1).key is None
    assert ShippingService(service_name="  ", freight_name="--").label == "(sem forma de envio)"
