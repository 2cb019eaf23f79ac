"""A deterministic data set as the billing system holds it: customers, contracts, meters and history."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from contracts.base import Envelope
from contracts.billing_system import (
    Address,
    ContractUpserted,
    CustomerUpserted,
    IdentityCheck,
    InvoiceIssued,
    MeterUpserted,
    Premises,
    SyncCompleted,
)
from contracts.identity import make_identity_digest
from tools.billing_sim.history import contract_history, with_tariff_and_document

FIRST_NAMES = [
    "Jan",
    "Anna",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Magdalena",
    "Paweł",
    "Agnieszka",
    "Marek",
    "Ewa",
    "Krzysztof",
    "Joanna",
    "Michał",
    "Barbara",
    "Andrzej",
    "Zofia",
]
LAST_NAMES = [
    "Kowalski",
    "Nowak",
    "Wiśniewski",
    "Wójcik",
    "Kowalczyk",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowski",
]
COMPANY_WORDS = ["Hydro", "Agro", "Bud", "Trans", "Med", "Pol", "Eko", "Tech"]
STREETS = ["Wodna", "Źródlana", "Ogrodowa", "Lipowa", "Polna", "Leśna", "Słoneczna", "Krótka"]
CITIES = [("00-001", "Warszawa"), ("30-001", "Kraków"), ("80-001", "Gdańsk"), ("60-001", "Poznań")]


def pesel(rng: random.Random) -> str:
    """A PESEL with a valid check digit for a person born 1940-1999."""
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))
    digits = [
        int(c)
        for c in f"{born.year % 100:02d}{born.month:02d}{born.day:02d}{rng.randrange(10_000):04d}"
    ]
    weights = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
    check = (10 - sum(d * w for d, w in zip(digits, weights, strict=True)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


def nip(rng: random.Random) -> str:
    """A NIP with a valid check digit."""
    weights = [6, 5, 7, 2, 3, 4, 5, 6, 7]
    while True:
        digits = [rng.randrange(1, 10)] + [rng.randrange(10) for _ in range(8)]
        check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


@dataclass
class SimCustomer:
    number: str
    kind: str
    name: str
    identity_kind: str
    identity_number: str
    address: Address
    contracts: list[ContractUpserted] = field(default_factory=list)
    meters: list[MeterUpserted] = field(default_factory=list)
    # The invoices that stand (after corrections and cancellations), and every history message
    # (invoices, corrections, cancellations, payments, control readings) in the order sent.
    invoices: list[InvoiceIssued] = field(default_factory=list)
    history: list[Envelope] = field(default_factory=list)


@dataclass
class Dataset:
    customers: list[SimCustomer]
    as_of: datetime

    def messages(self, *, digest_iterations: int = 10_000) -> Iterator[Envelope]:
        """Customers first, then contracts and meters, then each customer's history (invoices,
        payments, control readings), then one sync completed (R9)."""
        for c in self.customers:
            yield CustomerUpserted(
                customer_number=c.number,
                kind="company" if c.kind == "company" else "person",
                name=c.name,
                address=c.address,  # type: ignore[arg-type]
                identity_checks=[
                    IdentityCheck(
                        kind=c.identity_kind,  # type: ignore[arg-type]
                        digest=make_identity_digest(
                            c.identity_number, iterations=digest_iterations
                        ),
                    )
                ],
                revision=1,
            )
        for c in self.customers:
            yield from c.contracts
            yield from c.meters
        for c in self.customers:
            yield from c.history
        yield SyncCompleted(as_of=self.as_of)


def build_dataset(
    customers: int, seed: int = 1, today: date | None = None, *, months: int = 24
) -> Dataset:
    """``customers`` customers; about one in five a company, one in ten with a second premises,
    one in twelve with an ended contract only (R1: such a customer cannot register); ``months``
    months of invoices, payments and control readings for each contract."""
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    result: list[SimCustomer] = []
    for i in range(1, customers + 1):
        is_company = i > 1 and rng.random() < 0.2
        postal, city = rng.choice(CITIES)
        address = Address(
            street=f"ul. {rng.choice(STREETS)} {rng.randrange(1, 120)}",
            postal_code=postal,
            city=city,
        )
        if is_company:
            name = f"{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_WORDS).lower()} sp. z o.o."
            customer = SimCustomer(f"K{i:06d}", "company", name, "nip", nip(rng), address)
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            customer = SimCustomer(f"K{i:06d}", "person", name, "pesel", pesel(rng), address)
        premises_count = 2 if i > 1 and rng.random() < 0.1 else 1
        ended_only = i > 1 and rng.random() < 1 / 12
        for p in range(1, premises_count + 1):
            start = today - timedelta(days=rng.randrange(800, 4000))
            ended = ended_only
            end = today - timedelta(days=rng.randrange(30, 700)) if ended else None
            premises = Premises(
                premises_id=f"P{i:06d}-{p}",
                address=address
                if p == 1
                else Address(
                    street=f"ul. {rng.choice(STREETS)} {rng.randrange(1, 120)}",
                    postal_code=postal,
                    city=city,
                ),
            )
            customer.contracts.append(
                ContractUpserted(
                    contract_number=f"U/{start.year}/{i:06d}/{p}",
                    customer_number=customer.number,
                    premises=premises,
                    start_date=start,
                    end_date=end,
                    status="ended" if ended else "active",
                    billing_period_months=rng.choice([1, 2, 3]),
                    revision=1,
                )
            )
            installed = start + timedelta(days=rng.randrange(0, 30))
            customer.meters.append(
                MeterUpserted(
                    serial=f"WM{i:06d}{p}",
                    premises_id=premises.premises_id,
                    customer_number=customer.number,
                    diameter_mm=rng.choice([15, 20, 25])
                    if not is_company
                    else rng.choice([25, 32, 40]),
                    installed_on=installed,
                    legalization_expires=today + timedelta(days=rng.randrange(-30, 5 * 365)),
                    revision=1,
                )
            )
        result.append(customer)
    for i, customer in enumerate(result, start=1):
        add_history(customer, i, today=today, months=months, seed=seed)
    return Dataset(result, as_of=datetime.now(UTC).replace(microsecond=0))


def add_history(customer: SimCustomer, index: int, *, today: date, months: int, seed: int) -> None:
    """Tariffs, documents and the billing history; drawn from their own generators, so the
    customers, identity numbers and contracts above stay the same for a seed."""
    company = customer.kind == "company"
    customer.contracts = [
        with_tariff_and_document(c, company=company, seed=seed) for c in customer.contracts
    ]
    histories = [
        contract_history(
            contract,
            meter,
            index=index,
            premises_no=p,
            company=company,
            today=today,
            months=months,
            seed=seed,
        )
        for p, (contract, meter) in enumerate(
            zip(customer.contracts, customer.meters, strict=True), start=1
        )
    ]
    for h in histories:
        customer.invoices += h.invoices
    # The contracts' histories interleave by date, as one billing system would send them.
    timed = sorted((t for h in histories for t in h.timed), key=lambda t: (t[0], t[1]))
    customer.history = [message for _, _, message in timed]
