"""The ``explorer`` config section: which embedding the galaxy explorer shows and how its page is packed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from galssl.errors import ConfigError, reject_unknown_keys


@dataclasses.dataclass(frozen=True)
class ExplorerSettings:
    """The ``explorer`` config section (see workflow/schemas/config.schema.yaml for each key's meaning)."""

    embedding: str | None = None
    k_neighbours: int = 8
    thumbnail_px: int = 48
    tiles_per_side: int = 64
    thumbnail_format: str = "png"
    max_points: int = 200_000
    colour_by: str | None = None
    tooltip_columns: tuple[str, ...] | None = None
    columns: tuple[str, ...] | None = None
    # From the `labels` section (galssl.labelspec.ResolvedLabels), not from `explorer`: what the map opens coloured
    # by and shows on hover when colour_by / tooltip_columns are null.
    class_column: str | None = "galaxy10_class"
    class_name_column: str | None = "galaxy10_name"
    redshift_column: str | None = "redshift"

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, embeddings: Sequence[str] | None = None,
                     labels: Any = None) -> ExplorerSettings:
        """Settings from the config mapping and the resolved labels (galssl.labelspec.ResolvedLabels; None = the
        Galaxy10 columns). ``embeddings``: the names the run produces; the chosen embedding must be one of them.
        Unknown keys and bad values are a one-line ConfigError."""
        section = dict(section or {})
        label_fields = ("class_column", "class_name_column", "redshift_column")
        reject_unknown_keys(section, (f.name for f in dataclasses.fields(cls) if f.name not in label_fields),
                            "explorer")
        if labels is not None:
            section.update(class_column=labels.class_column, class_name_column=labels.class_name_column,
                           redshift_column=labels.redshift_column)
        for key in ("tooltip_columns", "columns"):
            if section.get(key) is not None:
                section[key] = tuple(str(name) for name in section[key])
        settings = cls(**section)
        for key in ("k_neighbours", "thumbnail_px", "tiles_per_side", "max_points"):
            value = getattr(settings, key)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"config error: explorer.{key} must be an integer >= 1 (got {value!r})")
        if settings.thumbnail_format not in ("png", "jpeg"):
            raise ConfigError(f"config error: explorer.thumbnail_format must be png or jpeg "
                              f"(got {settings.thumbnail_format!r})")
        if embeddings is not None and settings.embedding is not None and settings.embedding not in embeddings:
            raise ConfigError(f"config error: explorer.embedding must be one of the embeddings this run produces "
                              f"({', '.join(embeddings)}); got {settings.embedding!r}")
        return settings

    def embedding_from(self, embeddings: Sequence[str]) -> str:
        """The embedding shown: ``embedding``, or when it is null the first of the run's ``embeddings`` (the first
        pretraining method, else pixels_pca)."""
        if self.embedding is not None:
            return self.embedding
        if not embeddings:
            raise ConfigError("config error: explorer.embedding is null and the run produces no embedding")
        return embeddings[0]
