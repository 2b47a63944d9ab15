"""Shared by the SQL benchmarks: realistic ERP order snapshots, databases to run against, and
the machine's description. Not a benchmark itself."""

from __future__ import annotations

import os
import platform
import random
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# This tree's code, or (KANGLU_BENCH_SRC: the `src` of another tree, e.g. a `git worktree` of an
# earlier commit) that tree's: an A/B with the same benchmark script.
SRC = os.environ.get("KANGLU_BENCH_SRC") or str(ROOT / "src")
sys.path.insert(0, SRC)

from results_data import write_results  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from kanglu.adapters.sql.engine import make_engine  # noqa: E402
from kanglu.adapters.sql.schema import upgrade_to_head  # noqa: E402
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory  # noqa: E402
from kanglu.domain.access_keys import AccessKey, access_key_check_digit  # noqa: E402
from kanglu.domain.connections import ConnectionStatus, ErpConnection  # noqa: E402
from kanglu.domain.customers import Address, CustomerData  # noqa: E402
from kanglu.domain.documents import Document  # noqa: E402
from kanglu.domain.merchants import Merchant  # noqa: E402
from kanglu.domain.money import Money  # noqa: E402
from kanglu.domain.orders import ErpOrder, Invoice  # noqa: E402
from kanglu.domain.secrets import Sealed  # noqa: E402
from kanglu.domain.shipping import ShippingService  # noqa: E402
from kanglu.domain.situacoes import Situacao  # noqa: E402
from kanglu.domain.tracking_codes import TrackingCode, s10_check_digit  # noqa: E402

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Henrique", "Isabela", "João",
               "Júlia", "Lucas", "Mariana", "Nicolas", "Patrícia", "Rafael", "Sofia", "Thiago", "Vitória", "Wagner"]
LAST_NAMES = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
              "Costa", "Ribeiro", "Martins", "Carvalho", "Araújo", "Melo", "Barbosa", "Cardoso", "Rocha", "Dias"]
CITIES = [("São Paulo", "SP", "01001000"), ("Rio de Janeiro", "RJ", "20010000"), ("Belo Horizonte", "MG", "30110000"),
          ("Curitiba", "PR", "80010000"), ("Porto Alegre", "RS", "90010000"), ("Recife", "PE", "50010000"),
          ("Salvador", "BA", "40010000"), ("Fortaleza", "CE", "60010000"), ("Goiânia", "GO", "74010000")]
# (weight, service): the shipping data as Tiny lists it, and how its tracking codes look.
SERVICES = [
    (30, ShippingService(service_id=1, service_name="Correios", freight_name="SEDEX"), "s10"),
    (20, ShippingService(service_id=2, service_name="Correios", freight_name="PAC"), "s10"),
    (15, ShippingService(service_id=3, service_name="Jadlog", freight_name="Package"), "digits"),
    (10, ShippingService(service_id=4, service_name="Loggi"), "alnum"),
    (15, ShippingService(service_id=5, service_name="Mercado Envios", freight_name="Coleta"), "digits"),
    (10, ShippingService(service_id=6, service_name="Transportadora Regional", freight_name="Rodoviário"), "alnum"),
]
# (weight, situação, has a tracking code)
SITUACOES = [(40, Situacao.ENVIADA, True), (15, Situacao.PRONTO_ENVIO, True), (20, Situacao.FATURADA, False),
             (10, Situacao.ENTREGUE, True), (5, Situacao.CANCELADA, False), (5, Situacao.FATURADA, True),
             (5, Situacao.ABERTA, False)]


def _cpf_digits(base: str) -> str:
    first = sum(int(d) * w for d, w in zip(base, range(10, 1, -1), strict=True)) * 10 % 11 % 10
    second = sum(int(d) * w for d, w in zip(base + str(first), range(11, 1, -1), strict=True)) * 10 % 11 % 10
    return f"{first}{second}"


class OrderFactory:
    """Orders the way a real store's ERP describes them: a third of the buyers come back,
    most orders carry an NF-e, most shipped ones a tracking code."""

    def __init__(self, seed: int = 20260701) -> None:
        self._random = random.Random(seed)
        self._customers: list[CustomerData] = []
        self._now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

    def _customer(self) -> CustomerData:
        r = self._random
        if self._customers and r.random() < 0.33:
            return r.choice(self._customers)
        n = len(self._customers) + 1
        base = f"{(n * 7919 + 123456789) % 10**9:09d}"
        city, state, zip_code = r.choice(CITIES)
        name = f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)} {r.choice(LAST_NAMES)}"
        data = CustomerData(
            name=name,
            document=Document.parse(base + _cpf_digits(base)),
            email=f"cliente{n}@example.com" if r.random() < 0.9 else None,
            phone=f"119{r.randrange(10**8):08d}",
            address=Address(f"Rua {r.choice(LAST_NAMES)}", str(r.randrange(1, 3000)),
                            "apto 12" if r.random() < 0.3 else None, "Centro", city, state, zip_code, "Brasil"),
            erp_customer_id=500_000 + n,
        )
        self._customers.append(data)
        return data

    def _code(self, shape: str, serial: int) -> TrackingCode:
        if shape == "s10":
            digits = f"{serial % 10**8:08d}"
            return TrackingCode.parse(f"{self._random.choice(['QB', 'OY', 'AA', 'PM'])}{digits}"
                                      f"{s10_check_digit(digits)}BR")
        if shape == "digits":
            return TrackingCode.parse(f"{10**13 + serial}")
        return TrackingCode.parse(f"KG{serial:010d}X")

    def order(self, erp_id: int) -> ErpOrder:
        r = self._random
        _, situacao, has_code = r.choices(SITUACOES, weights=[w for w, *_ in SITUACOES])[0]
        _, shipping, shape = r.choices(SERVICES, weights=[w for w, *_ in SERVICES])[0]
        number = 100_000 + erp_id
        first_43 = f"352607123456780001995500{1:01d}{number:09d}1{erp_id % 10**8:08d}"
        invoice = None
        if situacao in (Situacao.FATURADA, Situacao.PRONTO_ENVIO, Situacao.ENVIADA, Situacao.ENTREGUE):
            invoice = Invoice(number=str(number), series="1",
                              access_key=AccessKey.parse(first_43 + str(access_key_check_digit(first_43))),
                              erp_invoice_id=9_000_000 + erp_id)
        created = self._now - timedelta(minutes=r.randrange(60 * 24 * 30))
        return ErpOrder(
            erp_order_id=10_000_000 + erp_id,
            situacao=situacao,
            number=str(number),
            ecommerce_number=r.choice([f"MLB-{2_000_000_000 + erp_id}", f"SHP{erp_id:08d}", None]),
            total=Money(Decimal(r.randrange(1_990, 99_990)) / 100),
            created_at=created.astimezone(SAO_PAULO).replace(second=0, microsecond=0),
            customer=self._customer(),
            invoice=invoice,
            shipping=shipping,
            tracking_code=self._code(shape, erp_id) if has_code else None,
        )

    def orders(self, count: int, first_id: int = 1) -> list[ErpOrder]:
        return [self.order(i) for i in range(first_id, first_id + count)]


def shipped_version(order: ErpOrder) -> ErpOrder:
    """The same order a poll later: shipped, with its tracking code (what re-imports look like)."""
    import attrs

    if order.situacao is not Situacao.FATURADA:
        return order
    digits = f"{order.erp_order_id % 10**8:08d}"
    code = TrackingCode.parse(f"QB{digits}{s10_check_digit(digits)}BR")
    return attrs.evolve(order, situacao=Situacao.ENVIADA, tracking_code=code)


def seed_connection(uow: SqlUnitOfWorkFactory, email: str = "bench@example.com") -> tuple[int, int]:
    now = datetime.now(UTC)
    with uow() as u:
        merchant = Merchant(name="Loja Benchmark", email=email, password_hash=None, created_at=now)
        u.merchants.add(merchant)
        u.flush()
        assert merchant.id is not None
        connection = ErpConnection(merchant_id=merchant.id, status=ConnectionStatus.CONNECTED, client_id="bench",
                                   client_secret=Sealed("not-a-real-secret"), updated_at=now)
        u.connections.add(connection)
        u.commit()
        assert connection.id is not None
        return merchant.id, connection.id


def maintain(engine: Engine, vacuum: bool = False) -> None:
    """What a production database does by itself: PostgreSQL's autovacuum keeps planner
    statistics (and the visibility map) current. The PostgreSQL these benchmarks run on has
    autovacuum off, and a planner without statistics picks plans no deployment would see,
    so the benchmarks analyze as they load, as autovacuum would."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("VACUUM ANALYZE" if vacuum else "ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")


def postgres_url() -> str | None:
    return os.environ.get("KANGLU_BENCH_POSTGRES_URL") or os.environ.get("KANGLU_TEST_POSTGRES_URL")


@contextmanager
def database(backend: str, workdir: Path, name: str) -> Iterator[Engine]:
    """An empty, migrated database: a SQLite file, or a private PostgreSQL schema."""
    if backend == "sqlite":
        path = workdir / f"{name}.sqlite3"
        for leftover in workdir.glob(f"{name}.sqlite3*"):
            leftover.unlink()
        engine = make_engine(f"sqlite:///{path}")
        upgrade_to_head(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    url = postgres_url()
    assert url
    schema = f"kanglu_bench_{name}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}))
    upgrade_to_head(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def write_result(name: str, result: dict[str, object]) -> None:
    if "postgresql" not in result:
        result["postgresql"] = "skipped: set KANGLU_BENCH_POSTGRES_URL or KANGLU_TEST_POSTGRES_URL"
    write_results(name, result)


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if postgres_url() else ["sqlite"]


def machine(engines: dict[str, Engine] | None = None) -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, object] = {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    url = postgres_url()
    if url:
        engine = make_engine(url)
        with engine.connect() as connection:
            info["postgresql"] = connection.scalar(text("SHOW server_version"))
        engine.dispose()
    return info
