"""The built-in mock sky as a provider: renders native cutouts in process (no network, no cache needed)."""

from __future__ import annotations

from galssl.mocksky.fits import cutout_header
from galssl.mocksky.sky import MockSky
from galssl.providers.base import BandImage, FetchError


class MockProvider:
    """Native-pixel cutouts of mock catalogue objects from ``instrument`` (sdss, legacy, euclid)."""

    def __init__(self, sky: MockSky, instrument: str, bands: list[str]) -> None:
        self.sky = sky
        self.instrument = instrument
        self.bands = list(bands)
        self.name = f"mock:{instrument}"

    def fetch(self, object_id: str, ra: float, dec: float, size_arcsec: float) -> list[BandImage]:
        """Render the object's cutouts (byte-identical on every call)."""
        if object_id not in self.sky.object_ids:
            raise FetchError(f"{object_id} is not in the mock sky "
                             f"(its catalogue has {len(self.sky.object_ids)} objects)")
        cutouts = self.sky.object_cutouts(object_id, self.instrument, self.bands, size_arcsec)
        return [BandImage(c.band, c.image, c.wcs, cutout_header(c, self.instrument, object_id, self.sky.seed),
                          "nanomaggy", c.psf_fwhm_arcsec) for c in cutouts]


def create(section: dict, context) -> MockProvider:
    """Registry hook: the survey section names the mock ``instrument`` and its ``bands``."""
    from galssl.mocksky.settings import MockSettings

    sky = MockSky(MockSettings.from_section(context.mock_section), context.seed)
    return MockProvider(sky, section.get("instrument", "sdss"), list(section["bands"]))
