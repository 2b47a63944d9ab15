"""Valid Brazilian identifiers and carrier codes, generated from their published definitions.

The sandbox computes check digits itself rather than borrowing the domain's validators, so the
tests that run generated values through `kanglu.domain` check two independent implementations.
"""

from __future__ import annotations

import operator
import random
import string

DIGITS = string.digits
ALNUM = string.digits + string.ascii_uppercase

# IBGE codes of the federative units (the first two digits of an access key).
UF_IBGE = {
    "RO": 11, "AC": 12, "AM": 13, "RR": 14, "PA": 15, "AP": 16, "TO": 17,
    "MA": 21, "PI": 22, "CE": 23, "RN": 24, "PB": 25, "PE": 26, "AL": 27, "SE": 28, "BA": 29,
    "MG": 31, "ES": 32, "RJ": 33, "SP": 35,
    "PR": 41, "SC": 42, "RS": 43,
    "MS": 50, "MT": 51, "GO": 52, "DF": 53,
}

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)



def _mod11(values: list[int], weights: list[int]) -> int:
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def cpf_check_digits(base9: str) -> str:
    values = [int(c) for c in base9]
    first = _mod11(values, list(range(10, 1, -1)))
    second = _mod11([*values, first], list(range(11, 1, -1)))
    return f"{first}{second}"


def cnpj_check_digits(base12: str) -> str:
    """Each character weighs ord(c) - 48, so the same rule covers the alphanumeric CNPJ."""
    values = [ord(c) - 48 for c in base12]
    weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    first = _mod11(values, weights)
    second = _mod11([*values, first], [6, *weights])
    return f"{first}{second}"


_KEY_WEIGHTS = tuple(2 + i % 8 for i in range(43))[::-1]  # 2..9 cycling, counted from the right
_KEY_WEIGHT_SUM = sum(_KEY_WEIGHTS)


def access_key_check_digit(first43: str) -> int:
    """Mod 11, weights 2..9 cycling from the right; remainder 0 or 1 gives 0."""
    total = sum(map(operator.mul, first43.encode("ascii"), _KEY_WEIGHTS)) - 48 * _KEY_WEIGHT_SUM
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def s10_check_digit(serial8: str) -> int:
    value = 11 - sum(int(d) * w for d, w in zip(serial8, _S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(value, value)


def _draw(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choices(alphabet, k=size))


def cpf(rng: random.Random) -> str:
    base = _draw(rng, DIGITS, 9)
    while len(set(base)) == 1:  # 000.000.000-00 and friends are never issued
        base = _draw(rng, DIGITS, 9)
    return base + cpf_check_digits(base)


def cnpj(rng: random.Random, alphanumeric: bool = False) -> str:
    """A CNPJ of a head office (branch 0001), or a fully alphanumeric root and branch."""
    if alphanumeric:
        base = _draw(rng, ALNUM, 8) + _draw(rng, ALNUM, 4)
        if base.isdigit():  # make sure it really is of the new kind
            base = "A" + base[1:]
    else:
        base = _draw(rng, DIGITS, 8) + "0001"
    return base + cnpj_check_digits(base)


def format_cpf(value: str) -> str:
    return f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}"


def format_cnpj(value: str) -> str:
    return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"


def access_key(
    uf: str, year: int, month: int, issuer_cnpj: str, model: str, series: int, number: int, random_code: int
) -> str:
    emission_type = 1  # normal emission
    first = (f"{UF_IBGE[uf]:02d}{year % 100:02d}{month:02d}{issuer_cnpj}{model}{series:03d}{number:09d}"
             f"{emission_type}{random_code:08d}")
    return first + str(access_key_check_digit(first))


def corrupt_access_key(key: str) -> str:
    """The same key with a wrong check digit: what a typo in an ERP looks like."""
    return key[:43] + str((int(key[43]) + 1 + (int(key[42]) % 8)) % 10)


def corrupt_document(document: str) -> str:
    """A CPF or CNPJ whose last check digit no longer matches."""
    return document[:-1] + str((int(document[-1]) + 1) % 10)


def s10(rng: random.Random, service: str) -> str:
    serial = _draw(rng, DIGITS, 8)
    return f"{service}{serial}{s10_check_digit(serial)}BR"


def corrupt_s10(code: str) -> str:
    return code[:10] + str((int(code[10]) + 1) % 10) + code[11:]


def digits(rng: random.Random, size: int, first: str = "123456789") -> str:
    return rng.choice(first) + _draw(rng, DIGITS, size - 1)


def alnum(rng: random.Random, size: int) -> str:
    return _draw(rng, ALNUM, size)
