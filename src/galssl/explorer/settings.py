"""The ``explorer`` config section: which embedding the galaxy explorer shows and how its page is packed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from galssl.errors import ConfigError
from galssl.settings import parse_section, schema_defaults


@dataclasses.dataclass(frozen=True)
@schema_defaults("explorer", class_column="/labels.class_column", class_name_column="/labels.class_names",
                 redshift_column="/labels.redshift_column")
class ExplorerSettings:
    """The ``explorer`` config section (see workflow/schemas/config.schema.yaml for each key's meaning)."""

    embedding: str | None
    k_neighbours: int
    thumbnail_px: int
    tiles_per_side: int
    thumbnail_format: str
    max_points: int
    colour_by: str | None
    tooltip_columns: tuple[str, ...] | None
    columns: tuple[str, ...] | None
    # From the `labels` section (galssl.labelspec.ResolvedLabels), not from `explorer`: what the map opens coloured
    # by and shows on hover when colour_by / tooltip_columns are null.
    class_column: str | None
    class_name_column: str | None
    redshift_column: str | None

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, embeddings: Sequence[str] | None = None,
                     labels: Any = None) -> ExplorerSettings:
        """Parse the config section (``galssl.settings.parse_section``) with the resolved labels
        (galssl.labelspec.ResolvedLabels; None = the ``labels`` defaults). ``embeddings``: the names the run
        produces; the chosen embedding must be one of them. Bad values are a one-line ConfigError."""
        context = {} if labels is None else dict(class_column=labels.class_column,
                                                  class_name_column=labels.class_name_column,
                                                  redshift_column=labels.redshift_column)
        settings = parse_section(cls, section, "explorer", **context)
        if embeddings is not None and settings.embedding is not None and settings.embedding not in embeddings:
            raise ConfigError(f"config error: explorer.embedding must be one of the embeddings this run produces "
                              f"({', '.join(embeddings)}); got {settings.embedding!r}")
        return settings

    def check(self) -> None:
        """Sizes >= 1 and a thumbnail format the page can show."""
        for key in ("k_neighbours", "thumbnail_px", "tiles_per_side", "max_points"):
            value = getattr(self, key)
            if value < 1:
                raise ConfigError(f"config error: explorer.{key} must be an integer >= 1 (got {value!r})")
        if self.thumbnail_format not in ("png", "jpeg"):
            raise ConfigError(f"config error: explorer.thumbnail_format must be png or jpeg "
                              f"(got {self.thumbnail_format!r})")

    def embedding_from(self, embeddings: Sequence[str]) -> str:
        """The embedding shown: ``embedding``, or when it is null the first of the run's ``embeddings`` (the first
        pretraining method, else pixels_pca)."""
        if self.embedding is not None:
            return self.embedding
        if not embeddings:
            raise ConfigError("config error: explorer.embedding is null and the run produces no embedding")
        return embeddings[0]
