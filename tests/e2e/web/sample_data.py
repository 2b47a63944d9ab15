"""Orders that look like a real shop's: varied customers, carriers, situações and dates, one
order no rule can place with a carrier, one that Tiny sent broken."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from kanglu.domain.documents import Document
from kanglu.domain.money import Money
from kanglu.domain.orders import ErpOrder, MalformedOrder
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking_codes import TrackingCode
from tests.builders import cpf, customer, erp_order, s10

PEOPLE = [
    ("Mariana Souza", "São Paulo", "SP"),
    ("João Pedro Almeida", "Campinas", "SP"),
    ("Ana Beatriz Lima", "Rio de Janeiro", "RJ"),
    ("Carlos Eduardo Ferreira", "Belo Horizonte", "MG"),
    ("Fernanda Oliveira", "Curitiba", "PR"),
    ("Rafael Costa", "Porto Alegre", "RS"),
    ("Juliana Martins", "Salvador", "BA"),
    ("Lucas Ribeiro", "Recife", "PE"),
    ("Patrícia Gomes", "Florianópolis", "SC"),
    ("Gabriel Rocha", "Goiânia", "GO"),
    ("Camila Carvalho", "Fortaleza", "CE"),
    ("Thiago Barbosa", "Brasília", "DF"),
]

SERVICES = [
    ShippingService(service_id=1, service_name="Correios", freight_name="SEDEX"),
    ShippingService(service_id=1, service_name="Correios", freight_name="PAC"),
    ShippingService(service_id=2, service_name="Jadlog", freight_name=".Package"),
    ShippingService(service_id=3, service_name="Loggi", freight_name="Expresso"),
]
UNKNOWN_SERVICE = ShippingService(service_id=9, service_name="Transportadora Rota Sul", freight_name="Rodoviário")
SITUACOES = [Situacao.ENVIADA, Situacao.FATURADA, Situacao.PRONTO_ENVIO, Situacao.ENTREGUE, Situacao.ENVIADA,
             Situacao.CANCELADA]


def shop_orders(count: int = 48, start: datetime = datetime(2026, 6, 30, 17, 40)) -> list[ErpOrder | MalformedOrder]:
    orders: list[ErpOrder | MalformedOrder] = []
    for n in range(1, count + 1):
        name, city, state = PEOPLE[n % len(PEOPLE)]
        person = customer(n % len(PEOPLE) + 1)
        person = attrs.evolve(
            person,
            name=name,
            email=name.split()[0].lower() + f".{n % len(PEOPLE)}@exemplo.com.br",
            document=Document.parse(cpf(n % len(PEOPLE) + 1)),
            address=attrs.evolve(person.address, city=city, state=state),
        )
        service = SERVICES[n % len(SERVICES)]
        if service.service_name == "Correios":
            code: TrackingCode | None = s10(70000 + n, "QB" if service.freight_name == "PAC" else "SS")
        else:
            code = TrackingCode.parse(f"{service.service_name[:2].upper()}{880000 + n * 7}")
        if n % 11 == 0:
            service, code = UNKNOWN_SERVICE, TrackingCode.parse(f"RS{450000 + n}")
        orders.append(
            erp_order(
                900000 + n,
                situacao=SITUACOES[n % len(SITUACOES)],
                number=str(12000 + n),
                ecommerce_number=f"LJA-{58200 + n}",
                total=Money.parse(f"{49 + (n * 37) % 900}.{(n * 13) % 100:02d}"),
                created_at=start - timedelta(hours=7 * n),
                customer=person,
                shipping=service,
                tracking_code=code,
            )
        )
    orders.append(
        MalformedOrder(
            erp_order_id=990001,
            reason="chave de acesso inválida: o dígito verificador não confere",
            raw={"id": 990001},
        )
    )
    return orders
