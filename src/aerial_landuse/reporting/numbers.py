"""Numbers as reports print them."""

from __future__ import annotations


def signed(value: float, digits: int = 2) -> str:
    """``value`` with its sign, to ``digits`` decimals; what rounds to zero prints as ``0.00``
    (never ``-0.00``)."""
    rounded = round(float(value), digits)
    if rounded == 0:
        return f"{0:.{digits}f}"
    return f"{rounded:+.{digits}f}"
