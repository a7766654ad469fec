"""Amounts and durations as people read them on a page or in a message."""

from __future__ import annotations

from functions.core.pricing import micros_to_amount

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(micros: int, currency: str, *, places: int = 2) -> str:
    """``micros`` millionths of ``currency``: ``$1.23``, or ``1.23 CHF`` without a symbol."""
    amount = f"{micros_to_amount(micros):,.{places}f}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def duration(seconds: float) -> str:
    """``seconds`` as ``45 min``, ``2 h`` or ``1 h 30 min``."""
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"
