"""R7.7: the consumption series drawn as an accessible SVG bar chart, from plain templates.

No script and no external resources: a browser shows the file as it is. Every piece of text
goes through ``escape``, so nothing from the data can become markup.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from xml.sax.saxutils import escape, quoteattr

from contracts.readings import ConsumptionItem, ConsumptionReport, Language

WIDTH, HEIGHT = 760, 400
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 64, 92
CURRENT_COLOUR = "#1f5f99"
PREVIOUS_COLOUR = "#b9c4cf"

TEXT = {
    "pl": {
        "title": "Zużycie wody",
        "y": "Zużycie [m³]",
        "month": "Miesiąc",
        "period": "Okres rozliczeniowy",
        "current": "Zużycie",
        "previous": "Rok wcześniej",
        "partial": "dane częściowe: {covered} z {days} dni",
        "empty": "Brak odczytów w wybranym okresie.",
        "summary": "Od {start} do {end}: razem {total}, średnio {average} na dobę. Trend: {trend}.",
        "no_average": "brak danych",
        "rising": "rosnący",
        "falling": "malejący",
        "stable": "stały",
        "unknown": "nieznany (brak danych sprzed roku)",
        "item": "{label}: {value}",
        "item_previous": "{label}, rok wcześniej: {value}",
    },
    "en": {
        "title": "Water consumption",
        "y": "Consumption [m³]",
        "month": "Month",
        "period": "Billing period",
        "current": "Consumption",
        "previous": "A year before",
        "partial": "partial data: {covered} of {days} days",
        "empty": "No readings in the chosen range.",
        "summary": "From {start} to {end}: {total} in total, {average} a day on average. Trend: {trend}.",
        "no_average": "no data",
        "rising": "rising",
        "falling": "falling",
        "stable": "stable",
        "unknown": "unknown (no data from a year before)",
        "item": "{label}: {value}",
        "item_previous": "{label}, a year before: {value}",
    },
}


def volume(value: Decimal | None, language: Language) -> str:
    """``12,345 m³`` in Polish, ``12.345 m³`` in English."""
    if value is None:
        return "—"
    text = f"{value:.3f}"
    return (text.replace(".", ",") if language == "pl" else text) + " m³"


def nice_ceiling(top: Decimal) -> tuple[Decimal, Decimal]:
    """(axis maximum, tick step): a 1-2-5 step giving at most five ticks above zero."""
    if top <= 0:
        return Decimal(1), Decimal("0.2")
    magnitude = Decimal(10) ** (top.adjusted() - 1)
    for factor in (1, 2, 5, 10, 20, 50, 100):
        step = magnitude * factor
        if top / step <= 5:
            ticks = (top / step).to_integral_value(rounding=ROUND_CEILING)
            return step * ticks, step
    return top, top / 5  # unreachable: factor 100 always fits


def tick_label(value: Decimal, step: Decimal, language: Language) -> str:
    """An axis tick with as many decimals as the step needs (``20``, ``0,5``), never ``20,000``."""
    places = max(-step.normalize().as_tuple().exponent, 0)  # type: ignore[operator]
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if language == "pl" else text


def _text(x: float, y: float, content: str, **attrs: str) -> str:
    extra = "".join(f" {k.rstrip('_').replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(content)}</text>'


def _bar(
    x: float,
    y: float,
    w: float,
    h: float,
    fill: str,
    label: str,
    opacity: str = "1",
    kind: str = "legend",
) -> str:
    return (
        f'<rect class="{kind}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}"'
        f' fill="{fill}" fill-opacity="{opacity}"><title>{escape(label)}</title></rect>'
    )


def _summary(report: ConsumptionReport, language: Language) -> str:
    t = TEXT[language]
    trend = t[report.trend.direction]
    if report.trend.change_percent is not None:
        sign = "+" if report.trend.change_percent > 0 else ""
        number = f"{sign}{report.trend.change_percent}"
        trend += f" ({number.replace('.', ',') if language == 'pl' else number} %)"
    average = (
        volume(report.average_daily_m3, language)
        if report.average_daily_m3 is not None
        else t["no_average"]
    )
    return t["summary"].format(
        start=report.date_from.isoformat(),
        end=report.date_to.isoformat(),
        total=volume(report.total_m3, language),
        average=average,
        trend=trend,
    )


def _item_label(item: ConsumptionItem, language: Language) -> str:
    t = TEXT[language]
    label = t["item"].format(label=item.label, value=volume(item.consumption_m3, language))
    if not item.complete and item.consumption_m3 is not None:
        label += " (" + t["partial"].format(covered=item.covered_days, days=item.days) + ")"
    return label


def render_chart(report: ConsumptionReport, language: Language = "pl") -> str:
    """The report's items as bars (the year before beside them, lighter), with axes in m³."""
    t = TEXT[language]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base_y = TOP + plot_h
    values = [
        v for i in report.items for v in (i.consumption_m3, i.previous_year_m3) if v is not None
    ]
    top, step = nice_ceiling(max(values, default=Decimal(0)))

    def y_of(value: Decimal) -> float:
        return base_y - float(value / top) * plot_h

    title = t["title"] + (f" — {report.premises_id}" if report.premises_id else "")
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc"'
        f' lang="{language}" font-family="sans-serif" font-size="12">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(_summary(report, language))}</desc>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(LEFT, 24, title, font_size="16", font_weight="bold"),
    ]
    # Gridlines and the y axis's tick values.
    tick = Decimal(0)
    while tick <= top:
        y = y_of(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e3e7eb"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, tick_label(tick, step, language), text_anchor="end"))
        tick += step
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base_y}" stroke="#333"/>'
        f'<line x1="{LEFT}" y1="{base_y}" x2="{WIDTH - RIGHT}" y2="{base_y}" stroke="#333"/>'
    )
    parts.append(
        _text(
            18,
            TOP + plot_h / 2,
            t["y"],
            text_anchor="middle",
            transform=f"rotate(-90 18 {TOP + plot_h / 2:.1f})",
            class_="axis-label",
        )
    )
    x_title = t["month"] if report.group == "month" else t["period"]
    parts.append(
        _text(LEFT + plot_w / 2, HEIGHT - 12, x_title, text_anchor="middle", class_="axis-label")
    )
    # Legend.
    legend_x = WIDTH - RIGHT - 250
    parts.append(_bar(legend_x, 36, 12, 12, PREVIOUS_COLOUR, t["previous"]))
    parts.append(_text(legend_x + 16, 46, t["previous"]))
    parts.append(_bar(legend_x + 125, 36, 12, 12, CURRENT_COLOUR, t["current"]))
    parts.append(_text(legend_x + 141, 46, t["current"]))

    n = len(report.items)
    if not values:
        parts.append(_text(LEFT + plot_w / 2, TOP + plot_h / 2, t["empty"], text_anchor="middle"))
    group = plot_w / max(n, 1)
    rotate = n > 8
    for k, item in enumerate(report.items):
        gx = LEFT + k * group
        bar_w = group * 0.36
        if item.previous_year_m3 is not None:
            y = y_of(item.previous_year_m3)
            label = t["item_previous"].format(
                label=item.label, value=volume(item.previous_year_m3, language)
            )
            parts.append(
                _bar(
                    gx + group * 0.12,
                    y,
                    bar_w,
                    base_y - y,
                    PREVIOUS_COLOUR,
                    label,
                    kind="bar previous-year",
                )
            )
        if item.consumption_m3 is not None:
            y = y_of(item.consumption_m3)
            opacity = "1" if item.complete else "0.55"
            parts.append(
                _bar(
                    gx + group * 0.5,
                    y,
                    bar_w,
                    base_y - y,
                    CURRENT_COLOUR,
                    _item_label(item, language),
                    opacity,
                    kind="bar consumption",
                )
            )
            if n <= 12:
                parts.append(
                    _text(
                        gx + group * 0.5 + bar_w / 2,
                        y - 4,
                        volume(item.consumption_m3, language).removesuffix(" m³"),
                        text_anchor="middle",
                        font_size="10",
                    )
                )
        lx, ly = gx + group / 2, base_y + 16
        if rotate:
            parts.append(
                _text(
                    lx,
                    ly,
                    item.label,
                    text_anchor="end",
                    transform=f"rotate(-45 {lx:.1f} {ly:.1f})",
                )
            )
        else:
            parts.append(_text(lx, ly, item.label, text_anchor="middle"))
    parts.append("</svg>")
    return "\n".join(parts)
