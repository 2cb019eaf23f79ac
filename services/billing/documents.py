"""The customer's documents: a VAT invoice as HTML and PDF, the signed contract as PDF (R7.2, R7.3).

Everything shown comes from the billing system and is treated as untrusted text: the HTML
template escapes it (jinja2 autoescape), the PDF writes it as text. Rendering is CPU work:
callers run these functions in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from contracts.billing_system import Address, ContractDocument, InvoiceLine
from services.billing.domain import amount_in_words, format_pln

FONTS = Path(__file__).parent / "fonts"
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Party:
    name: str
    lines: tuple[str, ...]
    identifiers: tuple[str, ...] = ()


# The utility that issues the invoices (the seller). Demo data: a deployment states its own.
SELLER = Party(
    "Miejskie Wodociągi i Kanalizacja Sp. z o.o.",
    ("ul. Wodociągowa 1", "00-950 Warszawa"),
    ("NIP 525-000-00-00", "KRS 0000000000"),
)
BANK_ACCOUNT = "PL61 1090 1014 0000 0712 1981 2874"

STATUS_NOTES = {
    "issued": "",
    "corrected": "Faktura skorygowana",
    "cancelled": "Faktura anulowana",
}

_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


def address_lines(address: Address) -> tuple[str, ...]:
    return (address.street, f"{address.postal_code} {address.city}")


@dataclass(frozen=True)
class VatSummaryRow:
    rate: str
    net: str
    vat: str
    gross: str


@dataclass(frozen=True)
class InvoiceView:
    """An invoice as a document shows it: every amount already formatted (Polish notation)."""

    title: str
    number: str
    issued_on: date
    sale_date: date
    due_date: date
    period_from: date
    period_to: date
    seller: Party
    buyer: Party
    premises: tuple[str, ...]
    contract_number: str
    lines: list[dict[str, str]]
    vat_summary: list[VatSummaryRow]
    net: str
    vat: str
    gross: str
    gross_in_words: str
    bank_account: str
    status_note: str
    corrects: str | None
    correction_reason: str | None


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")


def invoice_view(
    *,
    number: str,
    issued_on: date,
    sale_date: date,
    due_date: date,
    period_from: date,
    period_to: date,
    lines: list[InvoiceLine],
    net_grosze: int,
    vat_grosze: int,
    gross_grosze: int,
    status: str,
    corrects: str | None,
    correction_reason: str | None,
    buyer: Party,
    premises: tuple[str, ...],
    contract_number: str,
) -> InvoiceView:
    by_rate: dict[int, list[int]] = {}
    for line in lines:
        sums = by_rate.setdefault(line.vat_rate_percent, [0, 0, 0])
        sums[0] += line.net_grosze
        sums[1] += line.vat_grosze
        sums[2] += line.gross_grosze
    return InvoiceView(
        title="Faktura VAT korygująca" if corrects else "Faktura VAT",
        number=number,
        issued_on=issued_on,
        sale_date=sale_date,
        due_date=due_date,
        period_from=period_from,
        period_to=period_to,
        seller=SELLER,
        buyer=buyer,
        premises=premises,
        contract_number=contract_number,
        lines=[
            {
                "no": str(i),
                "description": line.description,
                "quantity": _quantity(line.quantity),
                "unit": line.unit,
                "unit_price": format_pln(line.unit_price_grosze),
                "net": format_pln(line.net_grosze),
                "rate": f"{line.vat_rate_percent}%",
                "vat": format_pln(line.vat_grosze),
                "gross": format_pln(line.gross_grosze),
            }
            for i, line in enumerate(lines, start=1)
        ],
        vat_summary=[
            VatSummaryRow(f"{rate}%", format_pln(n), format_pln(v), format_pln(g))
            for rate, (n, v, g) in sorted(by_rate.items())
        ],
        net=format_pln(net_grosze),
        vat=format_pln(vat_grosze),
        gross=format_pln(gross_grosze),
        gross_in_words=amount_in_words(gross_grosze),
        bank_account=BANK_ACCOUNT,
        status_note=STATUS_NOTES.get(status, ""),
        corrects=corrects,
        correction_reason=correction_reason,
    )


def invoice_html(view: InvoiceView) -> str:
    return _templates.get_template("invoice.html").render(invoice=view)


class _Document(FPDF):
    """An A4 page in DejaVu Sans, which has every Polish letter (the core PDF fonts do not)."""

    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_font("DejaVu", size=9)
        self.set_title(title)
        self.set_creator("IBOK")
        self.set_auto_page_break(auto=True, margin=15)
        self.add_page()

    def text_line(self, text: str, *, size: float = 9, bold: bool = False, h: float = 5) -> None:
        self.set_font("DejaVu", "B" if bold else "", size)
        self.multi_cell(0, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def party(self, heading: str, party: Party, x: float, y: float, width: float) -> float:
        self.set_xy(x, y)
        self.set_font("DejaVu", "B", 9)
        self.cell(width, 5, heading, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_font("DejaVu", "", 9)
        for text in (party.name, *party.lines, *party.identifiers):
            self.set_x(x)
            self.multi_cell(width, 4.5, text, new_x=XPos.LEFT, new_y=YPos.NEXT)
        return self.get_y()


def _pdf_bytes(pdf: FPDF) -> bytes:
    return bytes(pdf.output())


def invoice_pdf(view: InvoiceView) -> bytes:
    pdf = _Document(f"{view.title} {view.number}")
    pdf.text_line(f"{view.title} nr {view.number}", size=15, bold=True, h=8)
    if view.status_note:
        pdf.text_line(view.status_note.upper(), size=11, bold=True)
    if view.corrects:
        pdf.text_line(f"Korygowana faktura: {view.corrects}")
        if view.correction_reason:
            pdf.text_line(f"Przyczyna korekty: {view.correction_reason}")
    pdf.ln(2)
    for label, value in (
        ("Data wystawienia", view.issued_on.isoformat()),
        ("Data sprzedaży", view.sale_date.isoformat()),
        (
            "Okres rozliczeniowy",
            f"{view.period_from.isoformat()} \N{EN DASH} {view.period_to.isoformat()}",
        ),
        ("Termin płatności", view.due_date.isoformat()),
        ("Umowa", view.contract_number),
    ):
        pdf.text_line(f"{label}: {value}", h=4.5)
    pdf.ln(3)
    top = pdf.get_y()
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2 - 4
    left = pdf.party("Sprzedawca", view.seller, pdf.l_margin, top, width)
    right = pdf.party("Nabywca", view.buyer, pdf.l_margin + width + 8, top, width)
    pdf.set_xy(pdf.l_margin, max(left, right) + 2)
    if view.premises:
        pdf.text_line("Miejsce dostarczania: " + ", ".join(view.premises))
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 8)
    widths = (8, 52, 16, 10, 18, 20, 12, 18, 21)
    align = ("RIGHT", "LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
    with pdf.table(col_widths=widths, text_align=align, line_height=5) as table:
        table.row(
            (
                "Lp.",
                "Nazwa towaru lub usługi",
                "Ilość",
                "J.m.",
                "Cena netto",
                "Wartość netto",
                "VAT",
                "Kwota VAT",
                "Wartość brutto",
            )
        )
        for line in view.lines:
            table.row(
                (
                    line["no"],
                    line["description"],
                    line["quantity"],
                    line["unit"],
                    line["unit_price"],
                    line["net"],
                    line["rate"],
                    line["vat"],
                    line["gross"],
                )
            )
    pdf.ln(3)
    with pdf.table(
        col_widths=(20, 30, 30, 30), width=110, align="RIGHT", text_align="RIGHT", line_height=5
    ) as table:
        table.row(("Stawka", "Netto", "VAT", "Brutto"))
        for row in view.vat_summary:
            table.row((row.rate, row.net, row.vat, row.gross))
        table.row(("Razem", view.net, view.vat, view.gross))
    pdf.ln(4)
    pdf.text_line(f"Do zapłaty: {view.gross} zł", size=12, bold=True, h=7)
    pdf.text_line(f"Słownie: {view.gross_in_words}")
    pdf.text_line(f"Sposób zapłaty: przelew na rachunek {view.bank_account}")
    pdf.text_line(f"Termin płatności: {view.due_date.isoformat()}")
    return _pdf_bytes(pdf)


def contract_pdf(
    *,
    contract_number: str,
    customer: Party,
    premises: tuple[str, ...],
    start_date: date,
    end_date: date | None,
    document: ContractDocument,
    tariff: dict[str, Any],
) -> bytes:
    """R7.2: the signed contract as the billing system holds it: title, parties, clauses."""
    pdf = _Document(document.title)
    pdf.text_line(document.title, size=14, bold=True, h=7)
    pdf.text_line(f"Umowa nr {contract_number}, zawarta {document.signed_on.isoformat()}")
    term = f"od {start_date.isoformat()}" + (f" do {end_date.isoformat()}" if end_date else "")
    pdf.text_line(f"Okres obowiązywania: {term}")
    pdf.ln(3)
    top = pdf.get_y()
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / 2 - 4
    left = pdf.party("Dostawca", SELLER, pdf.l_margin, top, width)
    right = pdf.party("Odbiorca", customer, pdf.l_margin + width + 8, top, width)
    pdf.set_xy(pdf.l_margin, max(left, right) + 2)
    pdf.text_line("Nieruchomość: " + ", ".join(premises))
    pdf.text_line(
        "Taryfa (netto): woda {water} zł/m³, ścieki {sewage} zł/m³, abonament {fee} zł/mies.".format(
            water=format_pln(tariff["water_price_grosze"]),
            sewage=format_pln(tariff["sewage_price_grosze"]),
            fee=format_pln(tariff["subscription_fee_grosze"]),
        )
    )
    pdf.ln(3)
    for i, clause in enumerate(document.clauses, start=1):
        pdf.text_line(f"§ {i}", bold=True)
        pdf.text_line(clause)
        pdf.ln(1)
    return _pdf_bytes(pdf)
