"""Display-unit images (PNG/JPEG colour composites, Galaxy10 HDF5): what their channels are and how they show.

Such images hold display values (0-255 after ingest), not fluxes. ``surveys.<name>.bands`` names each channel in
order: either a filter (e.g. ``[i, r, g]`` for an SDSS gri composite whose red channel is i) or, when the channels
are no physical band, the plain names ``[red, green, blue]`` or ``[grey]``. The shard/manifest unit string of such
a dataset starts with ``display``.
"""

from __future__ import annotations

from collections.abc import Sequence

from galssl.errors import ConfigError

DISPLAY_UNIT = "display"
DISPLAY_MAX = 255.0
"""Shards store display values on 0-255 (16-bit images are scaled by 255/65535)."""

PLAIN_CHANNELS: dict[int, tuple[str, ...]] = {3: ("red", "green", "blue"), 1: ("grey",)}
"""Channel names for images whose channels are no physical band, by number of channels."""

FILTER_WAVELENGTH_NM: dict[str, float] = {"u": 355.0, "g": 475.0, "r": 620.0, "VIS": 715.0, "i": 760.0,
                                          "z": 910.0, "Y": 1080.0, "J": 1370.0, "H": 1770.0}
"""Approximate effective wavelengths of the filters a channel may name (only their order is used: red = longest)."""


def is_display_unit(unit: str | None) -> bool:
    """Whether a shard/manifest image unit (e.g. ``"display per target pixel"``) is display values, not flux."""
    return str(unit or "").strip().lower().startswith(DISPLAY_UNIT)


def manifest_is_display(manifest: dict) -> bool:
    """Whether the dataset of an ingest manifest holds display values (its ``image_unit`` starts with display)."""
    return is_display_unit(manifest.get("image_unit"))


def has_plain_channels(bands: Sequence[str]) -> bool:
    """Whether ``bands`` are the plain channel names ([red, green, blue] or [grey]) rather than filters."""
    return tuple(bands) == PLAIN_CHANNELS.get(len(bands))


def check_display_bands(bands: Sequence[str], where: str) -> tuple[str, ...]:
    """Validate the channel names of a display-image survey (``where`` = ``surveys.<name>.bands``)."""
    bands = tuple(str(band) for band in bands)
    options = (f"name each channel by its filter (one of {', '.join(FILTER_WAVELENGTH_NM)}, e.g. [i, r, g] for an "
               "SDSS gri composite) or, if the channels are no physical band, give [red, green, blue] (or [grey] "
               "for greyscale images)")
    if len(bands) not in PLAIN_CHANNELS:
        raise ConfigError(f"config error: {where} must name the 3 colour channels (or 1 for greyscale) of the "
                          f"images (got {list(bands)}): {options}")
    if has_plain_channels(bands):
        return bands
    unknown = [band for band in bands if band not in FILTER_WAVELENGTH_NM]
    if unknown or len(set(bands)) != len(bands):
        what = f"{unknown[0]!r} is not a filter" if unknown else "a filter is named twice"
        raise ConfigError(f"config error: {where} = {list(bands)}: {what}; {options}")
    return bands


def rgb_channel_order(bands: Sequence[str]) -> tuple[int, int, int]:
    """Indices of the (red, green, blue) channels: [red, green, blue] as named, filters from the longest
    wavelength (red) to the shortest (blue), one channel replicated for greyscale."""
    bands = list(bands)
    if len(bands) == 1:
        return 0, 0, 0
    if has_plain_channels(bands):
        return bands.index("red"), bands.index("green"), bands.index("blue")
    if len(bands) == 3 and all(band in FILTER_WAVELENGTH_NM for band in bands):
        order = sorted(range(3), key=lambda index: -FILTER_WAVELENGTH_NM[bands[index]])
        return order[0], order[1], order[2]
    raise ConfigError(f"display images need 1 or 3 channels named by filter or [red, green, blue] (got {bands})")


FLUX_ONLY_AUGMENTATIONS: dict[str, str] = {
    "reddening": "Galactic reddening by extinction coefficients needs calibrated fluxes per filter",
    "noise": "noise scaled by the sky MAD in flux units needs calibrated fluxes",
}
"""Augmentations that assume calibrated fluxes, and why; off for display images."""


def augmentations_off(manifest: dict) -> dict[str, str]:
    """{augmentation: reason} of the augmentations switched off for this dataset: the manifest's own record
    (``augmentations_off``, written by ingest), else derived from its ``image_unit`` (manifests before that field)."""
    recorded = manifest.get("augmentations_off")
    if isinstance(recorded, dict):
        return {str(key): str(value) for key, value in recorded.items()}
    return flux_only_off(manifest.get("image_unit"))


def flux_only_off(unit: str | None) -> dict[str, str]:
    """{augmentation: reason} switched off for images of this unit: the flux-only ones for display values."""
    if not is_display_unit(unit):
        return {}
    return {name: f"off: display values, not fluxes ({why})" for name, why in FLUX_ONLY_AUGMENTATIONS.items()}


DISPLAY_NOISE_FLOOR = 1.0
"""Smallest noise unit for display images: one display level (a JPEG's clipped black sky has a MAD of 0)."""


def noise_sky_mad(manifest: dict) -> list[float]:
    """Per band the sky MAD that noise is scaled by: the manifest's ``band_statistics[band]['sky_mad']`` (flux
    units; display units for display images, there at least :data:`DISPLAY_NOISE_FLOOR`)."""
    values = [float(manifest["band_statistics"][band]["sky_mad"]) for band in manifest["bands"]]
    return [max(value, DISPLAY_NOISE_FLOOR) for value in values] if manifest_is_display(manifest) else values


def shards_are_display(shard_paths) -> bool:
    """Whether Parquet shards hold display images (their ``galssl.image_unit`` metadata starts with display)."""
    import pyarrow.parquet as pq

    paths = list(shard_paths)
    if not paths:
        return False
    metadata = pq.read_schema(paths[0]).metadata or {}
    return is_display_unit(metadata.get(b"galssl.image_unit", b"").decode())
