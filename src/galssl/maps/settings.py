"""The ``maps`` config section as frozen dataclasses: PCA, sparse autoencoder, UMAP and stationarity settings.

The schema (workflow/schemas/config.schema.yaml, section ``maps``) holds the defaults and ranges; the dataclasses take
their defaults from it (``galssl.settings.schema_defaults``) and add the checks a schema cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from galssl.errors import ConfigError
from galssl.settings import parse_section, schema_defaults


@dataclass(frozen=True)
@schema_defaults("maps.pca")
class PCASettings:
    """``maps.pca``: components kept for alignment and the heat map, components shown as galaxy grids."""

    n_components: int
    n_show: int
    n_extreme: int


@dataclass(frozen=True)
@schema_defaults("maps.sae")
class SAESettings:
    """``maps.sae``: a Matryoshka BatchTopK sparse autoencoder (Bussmann et al. 2024, 2025).

    ``groups`` are the nested dictionary group sizes for an embedding of ``reference_dim`` dimensions; they are
    scaled by D / reference_dim for an embedding of D dimensions (:func:`galssl.maps.sae.scaled_groups`).
    """

    groups: tuple[int, ...]
    reference_dim: int
    k: int
    epochs: int
    batch_size: int
    lr: float
    l1_coefficient: float
    aux_k: int | None
    aux_coefficient: float
    dead_after_steps: int
    threshold_momentum: float
    n_show: int
    n_top_galaxies: int


@dataclass(frozen=True)
@schema_defaults("maps.umap")
class UMAPSettings:
    """``maps.umap``: umap-learn parameters and the thumbnail map's grid."""

    n_neighbors: int
    min_dist: float
    metric: str
    grid_cells: int


@dataclass(frozen=True)
@schema_defaults("maps.stationarity")
class StationaritySettings:
    """``maps.stationarity``: galaxies followed under rotation, jitter and noise; copies per transformation."""

    n_galaxies: int
    n_steps: int
    max_shift_px: int
    noise_scale: tuple[float, float]


LABEL_FIELDS = ("vote_columns", "redshift_column", "class_name_column", "extra_columns")
"""MapsSettings fields that come from the `labels` section, never from `maps`."""


@dataclass(frozen=True)
@schema_defaults("maps", redshift_column="/labels.redshift_column", class_name_column="/labels.class_names",
                 extra_columns="/labels.extra_columns")
class MapsSettings:
    """The whole ``maps`` section."""

    pca: PCASettings = field(default_factory=PCASettings)
    sae: SAESettings = field(default_factory=SAESettings)
    umap: UMAPSettings = field(default_factory=UMAPSettings)
    stationarity: StationaritySettings = field(default_factory=StationaritySettings)
    truth_columns: tuple[str, ...] | None
    min_shared_nonzero: int
    # From the `labels` section (galssl.labelspec.ResolvedLabels), not from `maps`: None = every column named
    # <question>__<answer>_fraction; () = no votes.
    vote_columns: tuple[str, ...] | None = None
    redshift_column: str | None
    class_name_column: str | None
    extra_columns: tuple[str, ...]

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, labels: Any = None) -> MapsSettings:
        """Parse the ``maps`` config section (``galssl.settings.parse_section``); the label columns come from
        ``labels`` (a galssl.labelspec.ResolvedLabels; None = the Galaxy10 / Galaxy Zoo defaults)."""
        from_labels = {} if labels is None else dict(
            vote_columns=tuple(labels.vote_columns), redshift_column=labels.redshift_column,
            class_name_column=labels.class_name_column, extra_columns=tuple(labels.extra_columns))
        return parse_section(cls, section, "maps", **from_labels)

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

