"""The ``mock`` config section as one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from galssl.errors import ConfigError

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
    "disturbed": 0.08, "merging": 0.10, "round_smooth": 0.14, "in_between_round_smooth": 0.14,
    "cigar_shaped_smooth": 0.06, "barred_spiral": 0.10, "unbarred_tight_spiral": 0.10,
    "unbarred_loose_spiral": 0.12, "edge_on_without_bulge": 0.06, "edge_on_with_bulge": 0.10,
}


@dataclass(frozen=True)
class MockSettings:
    """Parameters of the mock sky (config section ``mock``); angles in degrees."""

    n_objects: int = 5000
    ra_center_deg: float = 185.0
    dec_center_deg: float = 15.0
    width_deg: float = 2.0
    z_min: float = 0.01
    z_max: float = 0.4
    class_fractions: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CLASS_FRACTIONS))
    star_fraction: float = 0.03
    artifact_fraction: float = 0.02
    artifact_rate: float = 0.05
    field_density_arcmin2: float = 4.0
    volunteers: int = 40
    labels_instrument: str = "sdss"
    H0: float = 70.0
    Om0: float = 0.3
    gallery_instrument: str = "sdss"
    gallery_redshifts: tuple[float, ...] = (0.03, 0.07, 0.14)
    gallery_size_px: int = 80

    @classmethod
    def from_dict(cls, section: dict[str, Any]) -> MockSettings:
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
