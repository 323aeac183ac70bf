"""The summary as tables for a person at a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from processor.files.summary import RunSummary


def render_summary(summary: RunSummary, console: Console, seconds: float | None = None) -> None:
    inputs = Table(title="Inputs", title_justify="left")
    inputs.add_column("kind")
    inputs.add_column("records", justify="right")
    for kind, n in sorted(summary.inputs.items()):
        inputs.add_row(kind, f"{n:,}")
    inputs.add_row("duplicates ignored", f"{summary.duplicates:,}")
    inputs.add_row("members", f"{summary.members:,}")
    console.print(inputs)

    decisions = Table(title="Decisions (first decision per event) by outcome and reason",
                      title_justify="left")
    decisions.add_column("outcome")
    decisions.add_column("reason")
    decisions.add_column("count", justify="right")
    for (outcome, reason), n in sorted(summary.decisions.items()):
        decisions.add_row(outcome, reason, f"{n:,}")
    decisions.add_section()
    decisions.add_row("all", "", f"{sum(summary.decisions.values()):,}")
    decisions.add_row("flagged for review", "", f"{summary.requires_review:,}")
    decisions.add_row("corrections (superseding)", "", f"{summary.corrections:,}")
    console.print(decisions)

    letters = Table(title="Dead letters by error type", title_justify="left")
    letters.add_column("error type")
    letters.add_column("count", justify="right")
    for error_type, n in sorted(summary.dead_letters.items()):
        letters.add_row(error_type, f"{n:,}")
    if not summary.dead_letters:
        letters.add_row("none", "0")
    console.print(letters)

    money = Table(title="Commission adjustments by kind and basis", title_justify="left")
    money.add_column("kind")
    money.add_column("basis")
    money.add_column("count", justify="right")
    money.add_column("amount (USD)", justify="right")
    for (kind, basis), n in sorted(summary.adjustments.items()):
        amount = summary.amounts.get((kind, basis))
        money.add_row(kind, basis, f"{n:,}", "-" if amount is None else f"{amount:,.2f}")
    money.add_section()
    money.add_row("recovered by STOPs", "", "", f"{summary.recovered_amount:,.2f}")
    money.add_row("net", "", "", f"{summary.net_amount:,.2f}")
    console.print(money)
    if seconds is not None:
        events = sum(summary.inputs.values())
        rate = events / seconds if seconds > 0 else float("inf")
        console.print(f"{events:,} inputs in {seconds:.1f} s ({rate:,.0f} inputs/s)")


__all__ = ["render_summary"]
