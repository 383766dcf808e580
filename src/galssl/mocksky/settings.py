"""The ``mock`` config section as one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from galssl.errors import ConfigError
from galssl.settings import schema_defaults, schema_node

GALAXY10_CLASSES: tuple[str, ...] = (
    "disturbed",
    "merging",
    "round_smooth",
    "in_between_round_smooth",
    "cigar_shaped_smooth",
    "barred_spiral",
    "unbarred_tight_spiral",
    "unbarred_loose_spiral",
    "edge_on_without_bulge",
    "edge_on_with_bulge",
)
"""Galaxy10 DECaLS class names, in the dataset's label order (0-9)."""

DEFAULT_CLASS_FRACTIONS: dict[str, float] = {
    name: float(spec["default"]) for name, spec in schema_node("mock.class_fractions")["properties"].items()}
"""Share of each Galaxy10 class before normalisation (the schema's ``mock.class_fractions`` defaults)."""


@dataclass(frozen=True)
@schema_defaults("mock", ra_center_deg="patch.ra_center_deg", dec_center_deg="patch.dec_center_deg",
                 width_deg="patch.width_deg", z_min="redshift.min", z_max="redshift.max", H0="cosmology.H0",
                 Om0="cosmology.Om0", gallery_instrument="gallery.instrument", gallery_redshifts="gallery.redshifts",
                 gallery_size_px="gallery.size_px")
class MockSettings:
    """Parameters of the mock sky (config section ``mock``); angles in degrees."""

    n_objects: int
    ra_center_deg: float
    dec_center_deg: float
    width_deg: float
    z_min: float
    z_max: float
    class_fractions: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CLASS_FRACTIONS))
    star_fraction: float
    artifact_fraction: float
    artifact_rate: float
    field_density_arcmin2: float
    volunteers: int
    labels_instrument: str
    H0: float
    Om0: float
    gallery_instrument: str
    gallery_redshifts: tuple[float, ...]
    gallery_size_px: int

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> MockSettings:
        """Build from the (schema-validated) ``mock`` config section; missing keys take the defaults."""
        patch = section.get("patch", {})
        redshift = section.get("redshift", {})
        cosmology = section.get("cosmology", {})
        gallery = section.get("gallery", {})
        fractions = dict(DEFAULT_CLASS_FRACTIONS)
        fractions.update(section.get("class_fractions", {}))
        unknown = sorted(set(fractions) - set(GALAXY10_CLASSES))
        if unknown:
            raise ConfigError(f"config error: mock.class_fractions has unknown class {unknown[0]!r} "
                              f"(allowed: {', '.join(GALAXY10_CLASSES)})")
        defaults = cls()
        settings = cls(
            n_objects=int(section.get("n_objects", defaults.n_objects)),
            ra_center_deg=float(patch.get("ra_center_deg", defaults.ra_center_deg)),
            dec_center_deg=float(patch.get("dec_center_deg", defaults.dec_center_deg)),
            width_deg=float(patch.get("width_deg", defaults.width_deg)),
            z_min=float(redshift.get("min", defaults.z_min)),
            z_max=float(redshift.get("max", defaults.z_max)),
            class_fractions=fractions,
            star_fraction=float(section.get("star_fraction", defaults.star_fraction)),
            artifact_fraction=float(section.get("artifact_fraction", defaults.artifact_fraction)),
            artifact_rate=float(section.get("artifact_rate", defaults.artifact_rate)),
            field_density_arcmin2=float(section.get("field_density_arcmin2", defaults.field_density_arcmin2)),
            volunteers=int(section.get("volunteers", defaults.volunteers)),
            labels_instrument=str(section.get("labels_instrument", defaults.labels_instrument)),
            H0=float(cosmology.get("H0", defaults.H0)),
            Om0=float(cosmology.get("Om0", defaults.Om0)),
            gallery_instrument=str(gallery.get("instrument", defaults.gallery_instrument)),
            gallery_redshifts=tuple(float(z) for z in gallery.get("redshifts", defaults.gallery_redshifts)),
            gallery_size_px=int(gallery.get("size_px", defaults.gallery_size_px)),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ConfigError for values the physics cannot use."""
        if self.n_objects < 1:
            raise ConfigError(f"config error: mock.n_objects must be >= 1 (got {self.n_objects})")
        if not 0 <= self.z_min < self.z_max:
            raise ConfigError(f"config error: mock.redshift needs 0 <= min < max "
                              f"(got min={self.z_min}, max={self.z_max})")
        if sum(self.class_fractions.values()) <= 0:
            raise ConfigError("config error: mock.class_fractions must not all be zero")
        if self.star_fraction + self.artifact_fraction >= 1:
            raise ConfigError("config error: mock.star_fraction + mock.artifact_fraction must be < 1")

    def class_probabilities(self) -> list[float]:
        """Galaxy10 class probabilities in label order, normalised to sum to 1."""
        weights = [max(0.0, self.class_fractions.get(name, 0.0)) for name in GALAXY10_CLASSES]
        total = sum(weights)
        return [w / total for w in weights]
