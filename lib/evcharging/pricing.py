"""What energy costs: the one rule that the CP and the central must agree on."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
WATT_HOUR = Decimal("0.001")


def cost(kwh: Decimal, price_per_kwh: Decimal) -> Decimal:
    """€ for `kwh` at `price_per_kwh`, rounded to the cent as money is (half up)."""
    return (kwh * price_per_kwh).quantize(CENT, rounding=ROUND_HALF_UP)
