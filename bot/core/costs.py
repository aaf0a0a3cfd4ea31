"""Money: exact micro-dollars, and how they are shown."""

from __future__ import annotations

MICROS = 1_000_000


def format_usd(micros: int) -> str:
    """$0.042, $1.20, $12.00: cents for whole amounts, a tenth of a cent for small ones."""
    dollars = micros / MICROS
    if micros and abs(dollars) < 1:
        return f"${dollars:.3f}"
    return f"${dollars:,.2f}"
