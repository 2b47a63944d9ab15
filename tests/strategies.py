"""Hypothesis strategies for valid Brazilian identifiers, built from their definitions."""

from __future__ import annotations

from hypothesis import strategies as st
from stdnum.br import cnpj as stdnum_cnpj

from kanglu.domain.access_keys import UF_CODES, access_key_check_digit
from kanglu.domain.tracking_codes import s10_check_digit

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def cpf_check_digits(base: str) -> str:
    """By the definition (mod 11, weights 10..2 then 11..2), independent of the code under test."""
    first = sum(int(d) * w for d, w in zip(base, range(10, 1, -1), strict=True)) * 10 % 11 % 10
    second = sum(int(d) * w for d, w in zip(base + str(first), range(11, 1, -1), strict=True)) * 10 % 11 % 10
    return f"{first}{second}"


@st.composite
def cpfs(draw: st.DrawFn) -> str:
    base = draw(st.text("0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1))
    return base + cpf_check_digits(base)


@st.composite
def cnpjs(draw: st.DrawFn, alphanumeric: bool | None = None) -> str:
    use_letters = draw(st.booleans()) if alphanumeric is None else alphanumeric
    alphabet = ALNUM if use_letters else "0123456789"
    base = draw(st.text(alphabet, min_size=12, max_size=12).filter(lambda s: len(set(s)) > 1))
    return base + stdnum_cnpj.calc_check_digits(base)


def format_cpf(v: str) -> str:
    return f"{v[:3]}.{v[3:6]}.{v[6:9]}-{v[9:]}"


def format_cnpj(v: str) -> str:
    return f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}"


@st.composite
def access_keys(draw: st.DrawFn) -> str:
    uf = draw(st.sampled_from(sorted(UF_CODES)))
    year = draw(st.integers(6, 30))
    month = draw(st.integers(1, 12))
    issuer = draw(cnpjs())
    model = draw(st.sampled_from(["55", "65"]))
    series = draw(st.integers(0, 999))
    number = draw(st.integers(1, 999_999_999))
    emission = draw(st.integers(1, 9))
    code = draw(st.integers(0, 99_999_999))
    first = f"{uf:02d}{year:02d}{month:02d}{issuer}{model}{series:03d}{number:09d}{emission}{code:08d}"
    return first + str(access_key_check_digit(first))


@st.composite
def s10_codes(draw: st.DrawFn, country: str | None = None) -> str:
    service = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2))
    serial = draw(st.text("0123456789", min_size=8, max_size=8))
    origin = country or draw(st.sampled_from(["BR", "CN", "US", "DE"]))
    return f"{service}{serial}{s10_check_digit(serial)}{origin}"


# -- Tiny listing items: a valid id and situação, anything at all elsewhere -----------------

SITUACOES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
_junk_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.text(max_size=40),
    st.decimals(allow_nan=True, allow_infinity=True), st.floats(), st.just(""), st.just([]), st.just({}),
)
junk = st.recursive(_junk_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _maybe(plausible: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """A plausible value, a near miss, or junk of any JSON shape."""
    return st.one_of(plausible, plausible.map(lambda v: v[:-1] + "9" if isinstance(v, str) and v else v), junk)


@st.composite
def listing_items(draw: st.DrawFn) -> dict[str, object]:
    """A GET /pedidos item with a usable id and situação; every other field plausible,
    defective or of the wrong shape."""
    document = st.one_of(cpfs(), cnpjs(), cpfs().map(format_cpf), st.text("0123456789.-/", max_size=20))
    endereco = st.fixed_dictionaries({}, optional={
        "endereco": _maybe(st.text(max_size=30)), "numero": _maybe(st.text(max_size=5)),
        "bairro": _maybe(st.text(max_size=20)), "municipio": _maybe(st.text(max_size=20)),
        "cep": _maybe(st.text("0123456789-", max_size=10)), "uf": _maybe(st.text(max_size=3)),
        "pais": _maybe(st.sampled_from(["Brasil", "", "Portugal"])),
    })
    cliente = st.fixed_dictionaries({}, optional={
        "id": junk | st.integers(1, 10**9), "nome": _maybe(st.text(max_size=30)), "fantasia": _maybe(st.text(max_size=30)),
        "tipoPessoa": _maybe(st.sampled_from(["F", "J", "E", "X"])), "cpfCnpj": _maybe(document),
        "telefone": _maybe(st.text("0123456789()- +", max_size=20)), "celular": _maybe(st.text("0123456789()- +", max_size=20)),
        "email": _maybe(st.emails() | st.text(max_size=30)), "endereco": endereco | junk,
    })
    referencia = st.fixed_dictionaries({}, optional={"id": junk | st.integers(1, 10**6), "nome": _maybe(st.text(max_size=20))})
    transportador = st.fixed_dictionaries({}, optional={
        "id": junk, "nome": _maybe(st.sampled_from(["Correios", "Jadlog", "Loggi", "Rota Sul"])),
        "formaEnvio": referencia | junk, "formaFrete": referencia | junk,
        "codigoRastreamento": _maybe(s10_codes() | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", max_size=20)),
        "urlRastreamento": _maybe(st.sampled_from(["https://www.loggi.com/rastreador/X1", "http://x.com", "javascript:alert(1)", ""])),
    })
    item: dict[str, object] = {
        "id": draw(st.integers(1, 10**12) | st.integers(1, 10**9).map(str)),
        "situacao": draw(st.sampled_from(SITUACOES) | st.sampled_from(SITUACOES).map(str)),
    }
    optional = draw(st.fixed_dictionaries({}, optional={
        "numeroPedido": _maybe(st.integers(1, 10**6)), "ecommerce": junk | st.fixed_dictionaries(
            {}, optional={"numeroPedidoEcommerce": _maybe(st.text(max_size=20))}),
        "dataCriacao": _maybe(st.sampled_from(["2026-06-20 10:30:00", "2026-06-20", "20/06/2026", "0000-00-00"])),
        "cliente": cliente | junk, "valor": _maybe(st.sampled_from(["1234.50", "598", "", "1.234,50"])),
        "transportador": transportador | junk,
    }))
    item.update(optional)
    return item
