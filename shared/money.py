"""The one money rule of the whole system: which currencies there are, and how many decimals an
amount in each may carry.

Currencies are the ISO 4217 codes (pycountry's list). An amount carries at most its currency's
minor-unit decimals (ISO 4217: JPY 0, EUR 2, KWD 3, CLF 4), judged by value: "1500.00" JPY is
1500 yen and fine, "1500.5" JPY is refused. Events (`shared.events`), goals' targets and their
decompositions all ask this module, so what one service stores another can take.
"""

from __future__ import annotations

from decimal import Decimal

import pycountry

CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)

# ISO 4217 minor-unit exponents that are not 2 (every other currency has 2).
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),  # units of account (Chile, Uruguay)
}


def minor_units(currency: str) -> int:
    """The currency's minor-unit exponent: 2 for EUR, 0 for JPY, 3 for KWD."""
    return MINOR_UNITS.get(currency.upper(), 2)


def decimals_error(amount: Decimal, currency: str) -> str | None:
    """Why `amount` cannot be an amount in `currency` (too many decimals), or None if it can."""
    places = minor_units(currency)
    if not amount.is_finite():
        return "is not a finite amount"
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        unit = "no decimals" if places == 0 else f"at most {places} decimals"
        return f"{currency} amounts have {unit}"
    return None
