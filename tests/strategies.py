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
