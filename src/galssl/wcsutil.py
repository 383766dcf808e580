"""Fast celestial WCS from FITS headers.

``astropy.wcs.WCS(header)`` serialises and verifies every card of the header, which costs milliseconds per band
on survey headers with hundreds of cards; the WCS needs only a few dozen. Building it from the WCS cards alone,
and reusing it when bands of one object share those cards, makes reading cached cutouts several times faster.
"""

from __future__ import annotations

import re
from functools import lru_cache

from astropy.io import fits
from astropy.wcs import WCS

_WCS_KEY = re.compile(r"^(WCSAXES|CTYPE[12]|CUNIT[12]|CRVAL[12]|CRPIX[12]|CDELT[12]|CROTA[12]|CD[12]_[12]|PC[12]_[12]|"
                      r"PV[12]_\d+|RADESYS|EQUINOX|EPOCH|LONPOLE|LATPOLE|MJD-OBS|DATE-OBS|A_\w+|B_\w+|AP_\w+|BP_\w+)$")


@lru_cache(maxsize=512)
def _wcs_from_cards(cards: tuple[tuple[str, object], ...]) -> WCS:
    header = fits.Header()
    for keyword, value in cards:
        header[keyword] = value
    header["NAXIS"] = 2
    header["WCSAXES"] = 2
    return WCS(header, naxis=2)


def celestial_wcs(header: fits.Header) -> WCS:
    """The 2-D celestial WCS of an image header (axes 1 and 2), from its WCS cards only; shared, do not mutate."""
    cards = tuple((card.keyword, card.value) for card in header.cards if _WCS_KEY.match(card.keyword))
    return _wcs_from_cards(cards)
