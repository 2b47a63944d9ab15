"""Carrier identification cases: shipping data as merchants really fill it in Tiny, and the
carrier Kanglu must pick (a carrier code) or None (*transportadora não identificada*).

Columns: `service` is the forma de envio name (`transportador.formaEnvio.nome`), `freight`
the forma de frete name, `carrier` `transportador.nome`, `tipo` the forma de envio family
(`GET /formas-envio`), `code` the tracking code, `url` Tiny's `urlRastreamento`, `mappings`
the merchant's own choices (shipping-service key -> carrier code).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from kanglu.domain.shipping import ShippingService
from kanglu.domain.tracking_codes import TrackingCode

UNKNOWN = None

# Valid S10 codes (check digit included), and other carriers' shapes.
S10_SEDEX = "SS123456785BR"
S10_PAC = "PM102938478BR"
S10_MINI = "NX314159268BR"
S10_OTHER = "QB555012347BR"
SHOPEE_CODE = "BR2512345678901"
SHOPEE_CODE_LETTER = "BR2512345678901A"
AMAZON_CODE = "TBA301234567890"
JADLOG_LIKE = "10843000123456"  # 14 digits: Jadlog's shape, but also an invoice-like number
MERCADO_LIKE = "41234567890"  # 11 digits


@attrs.frozen
class Case:
    expected: str | None
    service: str | None = None
    freight: str | None = None
    carrier: str | None = None
    tipo: int | None = None
    code: str | None = None
    url: str | None = None
    mappings: Mapping[str, str] = attrs.field(factory=dict)
    why: str = ""

    @property
    def shipping(self) -> ShippingService:
        return ShippingService(
            service_id=1,
            service_name=self.service,
            freight_name=self.freight,
            carrier_name=self.carrier,
            family=self.tipo,
            tracking_url=self.url,
        )

    @property
    def tracking_code(self) -> TrackingCode | None:
        return TrackingCode.parse(self.code) if self.code else None

    @property
    def id(self) -> str:
        said = " | ".join(
            f"{k}={v}" for k, v in (
                ("s", self.service), ("f", self.freight), ("c", self.carrier), ("t", self.tipo),
                ("code", self.code), ("url", self.url), ("map", dict(self.mappings) or None),
            ) if v is not None
        )
        return f"{said or 'nothing'} -> {self.expected or 'unknown'}"


C = Case

CASES: tuple[Case, ...] = (
    # -- Correios: the family, the service names, typos, contracts -------------------------
    C("correios", service="Correios", freight="SEDEX", tipo=1, code=S10_SEDEX),
    C("correios", service="Correios", freight="PAC", tipo=1, code=S10_PAC),
    C("correios", service="Correios", freight="Sedex"),
    C("correios", freight="SEDEX 10"),
    C("correios", freight="SEDEX 12"),
    C("correios", freight="Sedex Hoje"),
    C("correios", freight="SEDEX10", why="typed without the space"),
    C("correios", service="Correios - PAC Contrato", tipo=1),
    C("correios", service="CORREIOS SEDEX CONTRATO AG"),
    C("correios", freight="PAC Mini"),
    C("correios", service="Correios", freight="Mini Envios", code=S10_MINI),
    C("correios", freight="minienvios"),
    C("correios", freight="Carta Registrada"),
    C("correios", freight="Impresso Módico"),
    C("correios", service="Correio", tipo=2, why="singular, a common slip"),
    C("correios", service="Corrêios", why="stray accent"),
    C("correios", freight="e-SEDEX"),
    C("correios", service="correios", freight="sedex contrato"),
    C("correios", tipo=1, why="family 1 alone"),
    C("correios", tipo=5, service="Correios FF"),
    C("correios", tipo=1, service="Envio padrão da loja", why="renamed forma de envio, family still Correios"),
    C("correios", service="Transportadora", tipo=2, carrier="Empresa Brasileira de Correios e Telégrafos"),
    C("correios", code=S10_OTHER, why="an S10 code with country BR is a Correios object"),
    C("correios", service="Transportadora", tipo=2, code=S10_SEDEX),
    C("correios", url=f"https://rastreamento.correios.com.br/app/index.php?objeto={S10_SEDEX}"),
    C("correios", freight="Frete Grátis", code=S10_PAC, why="free shipping, but the code is a Correios one"),
    C("correios", service="PAC via Melhor Envio"),
    C("correios", service="Melhor Envio", freight="Correios PAC", tipo=10),
    C("correios", service="Frenet", freight="SEDEX", tipo=10),
    C("correios", service="Kangu", freight="Correios - PAC", why="a carrier named beats the platform"),
    C("correios", service="Mercado Envios", tipo=3, code=S10_PAC, why="Mercado Envios shipped by the Correios"),
    C("correios", service="Shopee Envios", tipo=12, freight="Correios"),
    C("correios", service="SuperFrete - PAC"),
    C("correios", service="Mandabem", freight="SEDEX"),
    C("correios", service="Amazon", tipo=19, code=S10_SEDEX, why="an Amazon order posted at the Correios"),
    C("correios", service="Mandaê", tipo=23, code=S10_PAC, why="Mandaê hands some parcels to the Correios"),
    C("correios", service="correios.", freight="Pac.", why="trailing punctuation"),
    # -- Jadlog ----------------------------------------------------------------------------
    C("jadlog", service="Jadlog", freight=".Package", tipo=7),
    C("jadlog", service="Jadlog", freight=".Com"),
    C("jadlog", freight=".Package", why="Jadlog's own service name, with its dot"),
    C("jadlog", freight=".COM"),
    C("jadlog", service="JADLOG EXPRESSO"),
    C("jadlog", service="Jad Log"),
    C("jadlog", tipo=7, freight="Expresso"),
    C("jadlog", tipo=7, freight="Rodoviário"),
    C("jadlog", service="Jadlog via Melhor Envio"),
    C("jadlog", service="Melhor Envio", freight="Jadlog .Package", tipo=10),
    C("jadlog", service="Transportadora", tipo=2, carrier="JADLOG LOGISTICA S.A"),
    C("jadlog", service="Kangu", freight="Jadlog Package"),
    C("jadlog", url="https://www.jadlog.com.br/jadlog/tracking?cte=10843000123456"),
    C("jadlog", tipo=7, code=JADLOG_LIKE),
    C("jadlog", service="Frenet - Jadlog .Package"),
    C("jadlog", service="Intelipost | Jadlog", tipo=10),
    C("jadlog", service="jadlog.com", why="the domain typed as a name"),
    # -- Loggi -----------------------------------------------------------------------------
    C("loggi", service="Loggi", tipo=17),
    C("loggi", service="Loggi Pro"),
    C("loggi", freight="LOGGI EXPRESS"),
    C("loggi", tipo=17),
    C("loggi", service="Loggi via Melhor Envio"),
    C("loggi", url="https://www.loggi.com/rastreador/ABC123XYZ"),
    C("loggi", service="Melhor Envio", freight="Loggi Coleta", tipo=10),
    # -- Total Express ---------------------------------------------------------------------
    C("total_express", service="Total Express", tipo=8),
    C("total_express", service="TotalExpress"),
    C("total_express", service="Total Express - Expresso"),
    C("total_express", tipo=8, freight="Standard"),
    C("total_express", service="Transportadora", tipo=2, carrier="TEX COURIER S.A."),
    C("total_express", url="https://tracking.totalexpress.com.br/poupup_track.php?reid=1&pedido=2"),
    # -- J&T Express -----------------------------------------------------------------------
    C("jt_express", service="J&T Express"),
    C("jt_express", service="JeT", why="the ampersand written as an 'e'"),
    C("jt_express", freight="J & T"),
    C("jt_express", service="JT Express"),
    C("jt_express", service="Shopee Envios", tipo=12, freight="J&T Express"),
    C("jt_express", url="https://www.jtexpress.com.br/trajectoryQuery?waybillNo=888000111222333"),
    # -- Mercado Envios --------------------------------------------------------------------
    C("mercado_envios", service="Mercado Envios", tipo=3),
    C("mercado_envios", service="Mercado Envios", freight="Mercado Envios Full", tipo=3),
    C("mercado_envios", freight="Mercado Envios Flex"),
    C("mercado_envios", service="Mercado Livre", freight="Coleta"),
    C("mercado_envios", tipo=3, code=MERCADO_LIKE),
    C("mercado_envios", service="MercadoEnvios"),
    # -- Azul Cargo, Braspress, Sequoia ----------------------------------------------------
    C("azul_cargo", service="Azul Cargo Express"),
    C("azul_cargo", service="AZUL CARGO", tipo=2),
    C("azul_cargo", service="Transportadora", tipo=2, carrier="Azul Linhas Aéreas Brasileiras S.A."),
    C("braspress", service="Braspress", tipo=2),
    C("braspress", service="Transportadora", tipo=2, carrier="BRASPRESS TRANSPORTES URGENTES LTDA"),
    C("sequoia", service="Sequoia"),
    C("sequoia", service="Transportadora", tipo=2, carrier="Sequoia Logística e Transportes S.A."),
    C("sequoia", service="Shopee Envios", tipo=12, freight="Sequoia"),
    # -- Mandaê, Shopee, Amazon, Kangu, Magalu ---------------------------------------------
    C("mandae", service="Mandaê", tipo=23),
    C("mandae", service="Mandae Econômico"),
    C("mandae", tipo=23),
    C("shopee_xpress", service="Shopee Xpress"),
    C("shopee_xpress", service="Shopee Envios", tipo=12),
    C("shopee_xpress", tipo=12, code=SHOPEE_CODE),
    C("shopee_xpress", code=SHOPEE_CODE_LETTER, why="BR + 13 digits is Shopee Xpress' shape"),
    C("shopee_xpress", freight="SPX"),
    C("shopee_xpress", service="Shopee Express", why="the usual misspelling"),
    C("amazon", service="Amazon DBA", tipo=19),
    C("amazon", service="Amazon", tipo=19),
    C("amazon", code=AMAZON_CODE),
    C("kangu", service="Kangu"),
    C("kangu", service="Kangu", freight="Econômico"),
    C("magalu_entregas", service="Magalu Entregas", tipo=11),
    C("magalu_entregas", tipo=20, service="Magalu Fulfillment"),
    C("magalu_entregas", tipo=21, service="NS Magalu Entregas"),
    C("magalu_entregas", service="Magazine Luiza"),
    # -- the other families of Tiny's tipo list --------------------------------------------
    C("americanas_entrega", tipo=4, service="B2W Entrega"),
    C("americanas_entrega", service="Americanas Entrega"),
    C("envvias", tipo=14, service="Via Varejo Envvias"),
    C("madeira_envios", tipo=15, service="Madeira Envios"),
    C("ali_envios", tipo=16, service="Ali Envios"),
    C("ns_entregas", tipo=13, service="NS Entregas"),
    C("conecta_la", tipo=18, service="Conecta Lá Etiquetas"),
    C("shein_envios", tipo=22, service="Shein Envios"),
    C("olist_envios", tipo=24, service="Olist Envios"),
    C("olist_envios", tipo=9, service="Olist"),
    C("kwai_envios", tipo=25, service="Kwai Envios"),
    C("beleza_envios", tipo=26, service="Beleza na Web"),
    C("tiktok_envios", tipo=27, service="TikTok Shop"),
    C("hub_envios", tipo=28, service="Hub Envios"),
    C("posta_ja", tipo=30, service="Posta Já"),
    C("temu_envios", tipo=31, service="Temu"),
    # -- other carriers merchants name -----------------------------------------------------
    C("rodonaves", service="Transportadora", tipo=2, carrier="RTE Rodonaves"),
    C("jamef", service="Jamef Encomendas Urgentes"),
    C("fedex", service="TNT Mercúrio"),
    C("dhl", service="DHL Express"),
    C("buslog", service="Buslog"),
    C("latam_cargo", service="LATAM Cargo"),
    C("directlog", service="Directlog"),
    # -- misleading names: nothing names a carrier -----------------------------------------
    C(UNKNOWN, service="Retirada na loja", tipo=0),
    C(UNKNOWN, freight="Frete grátis"),
    C(UNKNOWN, service="Motoboy"),
    C(UNKNOWN, service="Motoboy", code="MB-000123"),
    C(UNKNOWN, freight="PACOTE PADRÃO", why="'pac' only as a word"),
    C(UNKNOWN, freight="Pacote"),
    C(UNKNOWN, service="Transportadora", tipo=2),
    C(UNKNOWN, freight="Entrega Expressa"),
    C(UNKNOWN, freight="Expresso", why="Jadlog's service name, but every carrier has an 'expresso'"),
    C(UNKNOWN, freight="Normal"),
    C(UNKNOWN, freight="Package", why="without its dot, just a word"),
    C(UNKNOWN, service="Melhor Envio", tipo=10, why="an intermediary alone names no carrier"),
    C(UNKNOWN, service="Frenet"),
    C(UNKNOWN, service="Entrega Própria", tipo=6),
    C(UNKNOWN, tipo=0),
    C(UNKNOWN, tipo=29, service="Forma Teste"),
    C(UNKNOWN, tipo=10),
    C(UNKNOWN, tipo=6, freight="Expresso"),
    C(UNKNOWN, service="Transportadora", tipo=2, carrier="Transportes Silva Ltda"),
    C(UNKNOWN, service="Transportadora", tipo=2, code=JADLOG_LIKE, why="14 digits alone prove nothing"),
    C(UNKNOWN, code=MERCADO_LIKE),
    C(UNKNOWN, service="Expresso São Miguel", why="a carrier outside the registry, not Jadlog's Expresso"),
    C(UNKNOWN, service="Total Transportes", why="not Total Express"),
    C(UNKNOWN, service="Azul"),
    C(UNKNOWN, service="Jet Express", why="another company, not J&T"),
    C(UNKNOWN, service="J. T. Transportes", why="initials, not J&T"),
    C(UNKNOWN, service="JT"),
    C(UNKNOWN, freight="Entrega Rápida Flex"),
    C(UNKNOWN, service="A combinar"),
    C(UNKNOWN, service="Uber Flash"),
    C(UNKNOWN, url="https://www.melhorrastreio.com.br/rastreio/ME123", why="a tracking aggregator"),
    C(UNKNOWN, url="https://minhaloja.com.br/rastreio?pedido=123"),
    C(UNKNOWN, url="https://www.linkcorreios.com.br/?id=ABC", why="not the Correios' own domain"),
    # -- contradictory evidence: never a guess ---------------------------------------------
    C(UNKNOWN, service="Correios", tipo=7),
    C(UNKNOWN, service="Jadlog", code=S10_SEDEX),
    C(UNKNOWN, service="Correios ou Jadlog"),
    C(UNKNOWN, freight="SEDEX / Jadlog .Package"),
    C(UNKNOWN, service="Correios", carrier="Braspress"),
    C(UNKNOWN, service="Correios", url="https://www.jadlog.com.br/jadlog/tracking?cte=1"),
    C(UNKNOWN, service="Shopee", tipo=3, why="two marketplaces"),
    C(UNKNOWN, service="Shopee Xpress", code=S10_SEDEX, why="Shopee's own fleet never carries an S10 code"),
    # -- the merchant's own mapping wins ---------------------------------------------------
    C("braspress", service="Transportadora", freight="Normal", tipo=2,
      mappings={"transportadora / normal": "braspress"}),
    C("loggi", service="Correios", freight="SEDEX", code=S10_SEDEX,
      mappings={"correios / sedex": "loggi"}, why="the merchant knows better than every rule"),
    C("correios", service="Correios", freight="SEDEX", mappings={"transportadora / normal": "loggi"},
      why="another service's mapping does not apply"),
    C("correios", service="Correios", freight="SEDEX", mappings={"correios / sedex": "carrier_that_left"},
      why="a mapping to a code the registry no longer knows is ignored"),
    C(UNKNOWN, service="Transportadora", freight="Normal", carrier="Transportes Silva Ltda", tipo=2,
      mappings={"transportadora / normal": "braspress"}, why="the carrier's name is part of the key"),
    C("rodonaves", service="Transportadora", freight="Normal", carrier="Transportes Silva Ltda", tipo=2,
      mappings={"transportadora / normal / transportes silva ltda": "rodonaves"}),
)
