"""The formas de envio of a sandbox account, and how each one's tracking codes look."""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from kanglu.sandbox import identifiers as ids

CodeMaker = Callable[[random.Random], str]


@attrs.frozen
class FormaFrete:
    id: int
    nome: str
    codigo: str | None
    codigo_externo: str | None
    tipo_entrega: int
    s10_services: tuple[str, ...] = ()


@attrs.frozen
class FormaEnvio:
    """One shipping service of the account, plus what the sandbox needs to fake its orders."""

    id: int
    nome: str
    tipo: int
    situacao: int  # 1 ativa, 2 inativa
    formas_frete: tuple[FormaFrete, ...]
    carrier_names: tuple[str | None, ...]  # what transportador.nome may say on an order
    make_code: CodeMaker | None  # None: this service never has a tracking code
    url_template: str | None
    weight: int
    gateway: tuple[int, str] | None = None


def _jadlog(rng: random.Random) -> str:
    return ids.digits(rng, 14)


def _loggi(rng: random.Random) -> str:
    return "LG" + ids.alnum(rng, 10)


def _mercado_envios(rng: random.Random) -> str:
    return "4" + ids.digits(rng, 10, "0123456789")


def _total_express(rng: random.Random) -> str:
    return "TE" + ids.digits(rng, 10)


def _jt(rng: random.Random) -> str:
    return "JT" + ids.digits(rng, 13, "0")


def _braspress(rng: random.Random) -> str:
    return ids.digits(rng, 9)


def _shopee(rng: random.Random) -> str:
    return "BR" + ids.digits(rng, 13, "2")


def _motoboy(rng: random.Random) -> str:
    return "MB-" + ids.digits(rng, 6)


# (nome, tipo, situacao, formas de frete, carrier names, code maker, tracking URL, weight in %)
_CATALOGUE: tuple[tuple, ...] = (
    (
        "Correios", 1, 1,
        (("SEDEX", "03220", "04014", 2, ("SL", "SX", "OB", "OY", "SS")),
         ("PAC", "03298", "04510", 1, ("QB", "QD", "PW", "PN")),
         ("Mini Envios", "04227", None, 4, ("NM", "NX", "LB"))),
        ("Correios", "", None, "Empresa Brasileira de Correios e Telégrafos"),
        "s10", "https://rastreamento.correios.com.br/app/index.php?objeto={code}", 34,
    ),
    (
        "Mercado Envios", 3, 1,
        (("Mercado Envios Coleta", "ME2", None, 1, ()), ("Mercado Envios Flex", "FLEX", None, 5, ())),
        ("Mercado Envios", None, ""),
        _mercado_envios, None, 15,
    ),
    (
        "Jadlog", 7, 1,
        ((".Package", "3", None, 1, ()), (".Com", "9", None, 2, ())),
        ("Jadlog Logística S.A.", "Jadlog", ""),
        _jadlog, "https://www.jadlog.com.br/jadlog/tracking?cte={code}", 10,
    ),
    (
        "Loggi", 17, 1,
        (("Loggi Expresso", "EXP", None, 2, ()), ("Loggi Econômico", "ECO", None, 4, ())),
        ("Loggi Tecnologia Ltda", "Loggi", None),
        _loggi, "https://www.loggi.com/rastreador/{code}", 8,
    ),
    (
        "Shopee Envios", 12, 1,
        (("Shopee Xpress", "SPX", None, 1, ()),),
        ("Shopee Xpress", ""),
        _shopee, None, 8,
    ),
    (
        "Total Express", 8, 1,
        (("Expresso", "EXP", None, 2, ()), ("Standard", "STD", None, 1, ())),
        ("Total Express", "TEX Courier S.A.", ""),
        _total_express, "https://tracking.totalexpress.com.br/poupup_track.php?pedido={code}", 6,
    ),
    (
        "J&T Express", 2, 1,
        (("Normal", None, None, 1, ()),),
        ("J&T Express Brasil Ltda", "J&T Express"),
        _jt, None, 6,
    ),
    (
        "Transportadora", 2, 1,
        (),
        ("Braspress Transportes Urgentes Ltda", "Braspress"),
        _braspress, None, 4,
    ),
    (
        "Motoboy", 6, 1,
        (("Entrega no mesmo dia", None, None, 5, ()),),
        ("Motoboy Express Entregas", None, ""),
        _motoboy, None, 4,
    ),
    (
        "Retirada na loja", 0, 1,
        (("Retirada", None, None, 6, ()),),
        (None, ""),
        None, None, 3,
    ),
    (
        "Correios (contrato antigo)", 5, 2,
        (("SEDEX Contrato", "40096", None, 2, ("SL",)),),
        ("Correios",),
        "s10", None, 0,
    ),
)


def build_catalogue(first_id: int, rng: random.Random) -> tuple[FormaEnvio, ...]:
    """The account's formas de envio; ids start at first_id, as Tiny numbers them per database."""
    formas = []
    next_id = first_id
    for nome, tipo, situacao, fretes, carriers, maker, url, weight in _CATALOGUE:
        envio_id = next_id
        next_id += rng.randint(1, 9)
        frete_records = []
        for f_nome, f_codigo, f_externo, tipo_entrega, s10_services in fretes:
            frete_records.append(FormaFrete(next_id, f_nome, f_codigo, f_externo, tipo_entrega, s10_services))
            next_id += rng.randint(1, 5)
        formas.append(
            FormaEnvio(
                id=envio_id,
                nome=nome,
                tipo=tipo,
                situacao=situacao,
                formas_frete=tuple(frete_records),
                carrier_names=carriers,
                make_code=None if maker is None else (_s10_maker(frete_records) if maker == "s10" else maker),
                url_template=url,
                weight=weight,
            )
        )
    return tuple(formas)


def _s10_maker(fretes: list[FormaFrete]) -> CodeMaker:
    services = tuple(s for f in fretes for s in f.s10_services) or ("SL",)

    def make(rng: random.Random) -> str:
        return ids.s10(rng, rng.choice(services))

    return make


def code_for(forma: FormaEnvio, frete: FormaFrete | None, rng: random.Random) -> str | None:
    """A fresh tracking code in the service's own shape (S10 service letters follow the frete)."""
    if forma.make_code is None:
        return None
    if frete is not None and frete.s10_services:
        return ids.s10(rng, rng.choice(frete.s10_services))
    return forma.make_code(rng)
