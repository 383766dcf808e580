"""The ``maps`` config section as frozen dataclasses: PCA, sparse autoencoder, UMAP and stationarity settings.

The schema (workflow/schemas/config.schema.yaml, section ``maps``) checks types and ranges and fills the defaults;
these dataclasses carry the same defaults (so the CLI also runs on a partial section) and the checks a schema
cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from galssl.errors import ConfigError, reject_unknown_keys


@dataclass(frozen=True)
class PCASettings:
    """``maps.pca``: components kept for alignment and the heat map, components shown as galaxy grids."""

    n_components: int = 32
    n_show: int = 6
    n_extreme: int = 6


@dataclass(frozen=True)
class SAESettings:
    """``maps.sae``: a Matryoshka BatchTopK sparse autoencoder (Bussmann et al. 2024, 2025).

    ``groups`` are the nested dictionary group sizes for an embedding of ``reference_dim`` dimensions; they are
    scaled by D / reference_dim for an embedding of D dimensions (:func:`galssl.maps.sae.scaled_groups`).
    """

    groups: tuple[int, ...] = (32, 32, 64, 128, 256, 512)
    reference_dim: int = 512
    k: int = 16
    epochs: int = 50
    batch_size: int = 256
    lr: float = 0.001
    l1_coefficient: float = 0.0
    aux_k: int | None = None
    aux_coefficient: float = 0.03125
    dead_after_steps: int = 50
    threshold_momentum: float = 0.01
    n_show: int = 6
    n_top_galaxies: int = 8


@dataclass(frozen=True)
class UMAPSettings:
    """``maps.umap``: umap-learn parameters and the thumbnail map's grid."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    grid_cells: int = 24


@dataclass(frozen=True)
class StationaritySettings:
    """``maps.stationarity``: galaxies followed under rotation, jitter and noise; copies per transformation."""

    n_galaxies: int = 6
    n_steps: int = 8
    max_shift_px: int = 4
    noise_scale: tuple[float, float] = (0.5, 3.0)


LABEL_FIELDS = ("vote_columns", "redshift_column", "class_name_column", "extra_columns")
"""MapsSettings fields that come from the `labels` section, never from `maps`."""


@dataclass(frozen=True)
class MapsSettings:
    """The whole ``maps`` section."""

    pca: PCASettings = field(default_factory=PCASettings)
    sae: SAESettings = field(default_factory=SAESettings)
    umap: UMAPSettings = field(default_factory=UMAPSettings)
    stationarity: StationaritySettings = field(default_factory=StationaritySettings)
    truth_columns: tuple[str, ...] | None = None
    min_shared_nonzero: int = 10
    # From the `labels` section (galssl.labelspec.ResolvedLabels), not from `maps`: None = every column named
    # <question>__<answer>_fraction; () = no votes.
    vote_columns: tuple[str, ...] | None = None
    redshift_column: str | None = "redshift"
    class_name_column: str | None = "galaxy10_name"
    extra_columns: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None, labels: Any = None) -> MapsSettings:
        """Validate the ``maps`` config section (unknown keys, checks across keys) into settings; the label columns
        come from ``labels`` (a galssl.labelspec.ResolvedLabels; None = the Galaxy10 / Galaxy Zoo defaults)."""
        section = dict(section or {})
        parts = {"pca": PCASettings, "sae": SAESettings, "umap": UMAPSettings, "stationarity": StationaritySettings}
        reject_unknown_keys(section, {f.name for f in fields(cls)} - set(LABEL_FIELDS), "maps")
        built: dict[str, Any] = {}
        for name, part in parts.items():
            raw = dict(section.get(name) or {})
            reject_unknown_keys(raw, {f.name for f in fields(part)}, f"maps.{name}")
            built[name] = part(**{key: tuple(value) if isinstance(value, list) else value
                                  for key, value in raw.items()})
        truth = section.get("truth_columns")
        from_labels = {} if labels is None else dict(
            vote_columns=tuple(labels.vote_columns), redshift_column=labels.redshift_column,
            class_name_column=labels.class_name_column, extra_columns=tuple(labels.extra_columns))
        settings = cls(**built, truth_columns=tuple(truth) if truth else None,
                       min_shared_nonzero=int(section.get("min_shared_nonzero", 10)), **from_labels)
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-key checks the schema cannot express; one ConfigError naming the key."""
        sae = self.sae
        if not sae.groups or any(size < 1 for size in sae.groups):
            raise ConfigError(f"config error: maps.sae.groups must be a non-empty list of sizes >= 1 "
                              f"(got {list(sae.groups)})")
        if sae.k > sum(sae.groups):
            raise ConfigError(f"config error: maps.sae.k must be <= the dictionary size sum(maps.sae.groups) = "
                              f"{sum(sae.groups)} (got {sae.k})")
        low, high = self.stationarity.noise_scale
        if not 0 <= low <= high:
            raise ConfigError(f"config error: maps.stationarity.noise_scale must be [low, high] with 0 <= low <= high "
                              f"(got {list(self.stationarity.noise_scale)})")
        if self.pca.n_show > self.pca.n_components:
            raise ConfigError(f"config error: maps.pca.n_show must be <= maps.pca.n_components "
                              f"({self.pca.n_components}) (got {self.pca.n_show})")

