"""The carriers the Kanglu knows: their names, service names, families, hosts and code shapes.

This is data; how it is used to name an order's carrier (evidence, precedence) is the engine's
business, in domain/carrier_identification.py. `Carrier` and `CarrierRegistry` are re-exported
here because most callers want them together with `DEFAULT_REGISTRY`."""

from __future__ import annotations

from collections.abc import Iterable

from kanglu.domain.carrier_identification import NOT_TRACKED, Carrier, CarrierRegistry

__all__ = ["DEFAULT_REGISTRY", "INTERMEDIARIES", "NOT_TRACKED", "S10_BR", "Carrier", "CarrierRegistry"]


S10_BR = r"[A-Z]{2}\d{9}BR"


def _carriers() -> Iterable[Carrier]:
    # Carriers that deliver themselves.
    yield Carrier(
        code="correios",
        name="Correios",
        tracking_url_template="https://rastreamento.correios.com.br/app/index.php?objeto={code}",
        families=frozenset({1, 5}),
        names=("correios", "correio", "coreios", "ect", "empresa brasileira de correios e telegrafos"),
        services=(
            "sedex", "sedex10", "sedex12", "sedexhoje", "esedex", "pac", "mini envios", "minienvios",
            "mini envio", "minienvio", "carta registrada", "carta simples", "impresso", "registro modico",
        ),
        code_patterns=(S10_BR,),
        hosts=("correios.com.br",),
    )
    yield Carrier(
        code="jadlog",
        name="Jadlog",
        tracking_url_template="https://www.jadlog.com.br/jadlog/tracking?cte={code}",
        families=frozenset({7}),
        names=("jadlog", "jad log"),
        services=(".package", ".com"),
        hosts=("jadlog.com.br",),
    )
    yield Carrier(
        code="loggi",
        name="Loggi",
        tracking_url_template="https://www.loggi.com/rastreador/{code}",
        families=frozenset({17}),
        names=("loggi",),
        hosts=("loggi.com",),
    )
    yield Carrier(
        code="total_express",
        name="Total Express",
        # Its public tracking page needs the shipper's id and the invoice besides the code.
        families=frozenset({8}),
        names=("total express", "totalexpress", "total expres", "tex courier"),
        hosts=("totalexpress.com.br",),
    )
    yield Carrier(
        code="jt_express",
        name="J&T Express",
        tracking_url_template="https://www.jtexpress.com.br/trajectoryQuery?waybillNo={code}",
        names=("j&t", "jt express", "jnt express"),
        hosts=("jtexpress.com.br",),
    )
    yield Carrier(
        code="azul_cargo",
        name="Azul Cargo Express",
        names=("azul cargo", "azulcargo", "azul cargo express", "azul express", "azul linhas aereas"),
        hosts=("azulcargoexpress.com.br",),
    )
    yield Carrier(
        code="braspress",
        name="Braspress",
        names=("braspress",),
        hosts=("braspress.com", "braspress.com.br"),
    )
    yield Carrier(
        code="sequoia",
        name="Sequoia",
        names=("sequoia", "sequoialog"),
        hosts=("sequoialog.com.br",),
    )
    yield Carrier(code="rodonaves", name="Rodonaves", names=("rodonaves", "rte rodonaves"), hosts=("rodonaves.com.br",))
    yield Carrier(code="jamef", name="Jamef", names=("jamef",), hosts=("jamef.com.br",))
    yield Carrier(code="patrus", name="Patrus Transportes", names=("patrus",), hosts=("patrus.com.br",))
    yield Carrier(code="buslog", name="Buslog", names=("buslog",), hosts=("buslog.com.br",))
    yield Carrier(code="directlog", name="Directlog", names=("directlog", "direct log"), hosts=("directlog.com.br",))
    yield Carrier(code="latam_cargo", name="LATAM Cargo", names=("latam cargo",), hosts=("latamcargo.com",))
    yield Carrier(code="gollog", name="Gollog", names=("gollog", "gol log"), hosts=("gollog.com.br",))
    yield Carrier(code="fedex", name="FedEx", names=("fedex", "tnt", "tnt mercurio"), hosts=("fedex.com",))
    yield Carrier(code="dhl", name="DHL", names=("dhl",), hosts=("dhl.com", "dhl.com.br"))

    # Marketplace logistics programs and shipping platforms: they hand parcels to others.
    yield Carrier(
        code="mercado_envios",
        name="Mercado Envios",
        families=frozenset({3}),
        names=("mercado envios", "mercadoenvios", "mercado envio", "mercado livre", "mercadolivre"),
        hosts=("mercadolivre.com.br", "mercadolibre.com"),
        platform=True,
    )
    yield Carrier(
        code="shopee_xpress",
        name="Shopee Xpress",
        tracking_url_template="https://spx.com.br/track?{code}",
        families=frozenset({12}),
        names=("shopee", "shopee envios"),
        fleet_names=("shopee xpress", "shopee express", "spx", "spx express"),
        code_patterns=(r"BR\d{13}[A-Z]?",),
        hosts=("spx.com.br", "shopee.com.br"),
        platform=True,
    )
    yield Carrier(
        code="amazon",
        name="Amazon",
        families=frozenset({19}),
        names=("amazon",),
        fleet_names=("amazon dba", "amazon logistics", "amazon logistica"),
        code_patterns=(r"TBA\d{12}",),
        hosts=("amazon.com.br", "amazon.com"),
        platform=True,
    )
    yield Carrier(
        code="kangu",
        name="Kangu",
        names=("kangu",),
        hosts=("kangu.com.br",),
        platform=True,
    )
    yield Carrier(
        code="mandae",
        name="Mandaê",
        families=frozenset({23}),
        names=("mandae",),
        hosts=("mandae.com.br",),
        platform=True,
    )
    yield Carrier(
        code="magalu_entregas",
        name="Magalu Entregas",
        families=frozenset({11, 20, 21}),
        names=("magalu", "magalu entregas", "magalu fulfillment", "magazine luiza", "ns magalu entregas"),
        hosts=("magazineluiza.com.br", "magalu.com"),
        platform=True,
    )
    for code, name, families, names in _MARKETPLACE_PROGRAMS:
        yield Carrier(code=code, name=name, families=frozenset(families), names=names, platform=True)


# The other marketplace programs of Tiny's family list, known by their family and names alone.
_MARKETPLACE_PROGRAMS: tuple[tuple[str, str, set[int], tuple[str, ...]], ...] = (
    ("americanas_entrega", "Americanas Entrega (B2W)", {4},
     ("americanas entrega", "americanas", "b2w", "b2w entrega", "submarino", "shoptime")),
    ("envvias", "Envvias (Via Varejo)", {14},
     ("envvias", "via varejo", "viavarejo", "casas bahia", "ponto frio", "pontofrio")),
    ("madeira_envios", "Madeira Envios", {15}, ("madeira envios", "madeiramadeira", "madeira madeira")),
    ("ali_envios", "Ali Envios (AliExpress)", {16}, ("ali envios", "aliexpress", "ali express")),
    ("ns_entregas", "NS Entregas (Netshoes)", {13}, ("ns entregas", "netshoes")),
    ("conecta_la", "Conecta Lá Etiquetas", {18}, ("conecta la", "conectala")),
    ("shein_envios", "Shein Envios", {22}, ("shein", "shein envios")),
    ("olist_envios", "Olist Envios", {9, 24}, ("olist", "olist envios")),
    ("kwai_envios", "Kwai Envios", {25}, ("kwai", "kwai envios")),
    ("beleza_envios", "Beleza Envios (Beleza na Web)", {26}, ("beleza envios", "beleza na web", "belezanaweb")),
    ("tiktok_envios", "TikTok Envios", {27}, ("tiktok", "tik tok", "tiktok envios", "tiktok shop")),
    ("hub_envios", "Hub Envios", {28}, ("hub envios",)),
    ("posta_ja", "Posta Já", {30}, ("posta ja", "postaja")),
    ("temu_envios", "Temu Envios", {31}, ("temu", "temu envios")),
)


# Freight brokers and label resellers: they sell other carriers' services and name nobody.
INTERMEDIARIES = (
    "melhor envio", "melhorenvio", "frenet", "intelipost", "superfrete", "super frete", "mandabem", "manda bem",
    "frete rapido", "freterapido", "smartenvios", "smart envios", "melhor rastreio", "enviali", "envia com",
)

DEFAULT_REGISTRY = CarrierRegistry(tuple(_carriers()), INTERMEDIARIES)
