"""The cutout gallery: ingested cutouts as the encoders receive them, a fixed random sample per split.

Each thumbnail is the stored cutout (the target grid of the survey, north up) with the encoders' centre crop
outlined; flux images get the usual asinh colour composite, display images (PNG/JPEG) are shown as they are.
With a class column the sample is drawn per class and split (rows = classes), else per split (rows = splits).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from galssl.composite import image_rgb
from galssl.errors import DataError

SPLIT_ORDER = ("train", "val", "test")
"""Splits in the order they are shown (any other split follows, sorted)."""
UNLABELLED = "unlabelled"
MAX_CLASSES = 20
"""At most this many class rows (the classes with the smallest values); the title says how many are left out."""


def choose_cutouts(objects: pd.DataFrame, per_group: int, seed: int, class_names: Mapping[int, str] | None = None,
                   ) -> pd.DataFrame:
    """The sample: ``per_group`` objects (or all, when fewer) drawn without replacement per split — and per class
    when ``objects`` has a ``label`` column (int, -1 = unknown) — from ids sorted first, so the same objects and
    seed give the same sample whatever the shard order. Columns: object_id, split, group (class name or split)."""
    if per_group < 1:
        raise DataError(f"cutouts per group must be >= 1 (got {per_group})")
    table = objects.sort_values("object_id", kind="stable", ignore_index=True)
    splits = [s for s in SPLIT_ORDER if s in set(table["split"])] + sorted(set(table["split"]) - set(SPLIT_ORDER))
    rng = np.random.default_rng(seed)
    has_classes = "label" in table.columns
    values = sorted(v for v in set(table["label"]) if v >= 0) if has_classes else []
    groups = [(value, _class_name(value, class_names)) for value in values[:MAX_CLASSES]]
    if has_classes and (table["label"] < 0).any():
        groups.append((-1, UNLABELLED))
    chosen = []
    for split in splits:
        in_split = table[table["split"] == split]
        for value, name in groups if has_classes else [(None, split)]:
            members = in_split if value is None else in_split[in_split["label"].eq(value) if value >= 0
                                                              else in_split["label"].lt(0)]
            picks = np.sort(rng.choice(len(members), min(per_group, len(members)), replace=False))
            chosen += [(object_id, split, name) for object_id in members["object_id"].iloc[picks]]
    return pd.DataFrame(chosen, columns=["object_id", "split", "group"])


def _class_name(value: int, class_names: Mapping[int, str] | None) -> str:
    return str((class_names or {}).get(int(value), f"class {int(value)}")).replace("_", " ")


def cutouts_figure(sample: pd.DataFrame, images: np.ndarray, bands: Sequence[str], survey: str, crop: int,
                   display: bool, title: str, per_group: int, totals: Mapping[str, int] | None = None,
                   left_out_classes: int = 0) -> plt.Figure:
    """The gallery of ``sample`` (from :func:`choose_cutouts`; ``images`` (n, bands, H, W) in its order): one row
    per group (class, else split), columns grouped by split; the object id under each thumbnail, the ``crop`` x
    ``crop`` centre crop outlined; ``totals`` (objects per group) go under the row labels."""
    if len(sample) == 0:
        raise DataError("no cutouts to show: the shards hold no objects")
    splits = list(dict.fromkeys(sample["split"]))
    by_split = sample["group"].tolist() == sample["split"].tolist()
    groups = list(dict.fromkeys(sample["group"]))
    n_columns = per_group if by_split else len(splits) * per_group + len(splits) - 1
    # A narrow empty column between the splits' groups of thumbnails.
    ratios = [0.3 if not by_split and column % (per_group + 1) == per_group else 1.0 for column in range(n_columns)]
    panel_in, label_in = 1.05, 1.5
    width_in, height_in = max(6.0, panel_in * sum(ratios) + label_in), panel_in * 1.22 * len(groups) + 1.1
    figure, axes = plt.subplots(len(groups), n_columns, figsize=(width_in, height_in), squeeze=False,
                                gridspec_kw={"wspace": 0.05, "hspace": 0.3, "width_ratios": ratios})
    for axis in axes.ravel():
        axis.axis("off")
    height, width = images.shape[-2:]
    place = sample.groupby(["group", "split"], sort=False).cumcount().to_numpy()
    for index, row in enumerate(sample.itertuples(index=False)):
        line = groups.index(row.group)
        split_at = 0 if by_split else splits.index(row.split) * (per_group + 1)
        axis = axes[line, split_at + int(place[index])]
        axis.axis("on")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.imshow(image_rgb(images[index], list(bands), survey, display), origin="lower", interpolation="nearest")
        if crop < min(height, width):
            axis.add_patch(Rectangle(((width - crop) / 2 - 0.5, (height - crop) / 2 - 0.5), crop, crop, fill=False,
                                     edgecolor="#ffd23f", linewidth=0.8, linestyle="--"))
        axis.set_xlabel(str(row.object_id), fontsize=5.5, labelpad=1.5)
        for spine in axis.spines.values():
            spine.set_visible(False)
    for line, group in enumerate(groups):
        label = textwrap.fill(group, 16)
        if totals and group in totals:
            label += f"\n({totals[group]} objects)"
        axes[line, 0].axis("on")
        axes[line, 0].set_ylabel(label, fontsize=7.5, rotation=0, ha="right", va="center", labelpad=6)
        if not len(axes[line, 0].images):  # an empty first cell still carries the row label
            axes[line, 0].set_xticks([])
            axes[line, 0].set_yticks([])
            for spine in axes[line, 0].spines.values():
                spine.set_visible(False)
    if not by_split:
        for position, split in enumerate(splits):
            axes[0, position * (per_group + 1) + per_group // 2].set_title(split, fontsize=9)
    suffix = f"; {left_out_classes} more classes not shown" if left_out_classes else ""
    heading = textwrap.fill(f"{title}{suffix}", int(width_in * 13))
    figure.suptitle(heading, fontsize=9, y=1 - 0.1 / height_in, va="top")
    top_in = 0.25 + 0.16 * (heading.count("\n") + 1) + (0.25 if not by_split else 0.0)  # title, then split names
    figure.subplots_adjust(left=label_in / width_in, right=0.99, bottom=0.3 / height_in, top=1 - top_in / height_in)
    return figure


def cutouts_figure_from_files(shards: Sequence[str], manifest_path: str, labels_path: str | None,
                              labels_config: str | None, crop: int, seed: int, survey: str, instrument: str,
                              per_split: int = 8, per_class: int = 3) -> plt.Figure:
    """The gallery of a survey's shards: ``per_split`` objects per split, or ``per_class`` per class and split when
    the run has a class column (``labels_config``: the resolved labels JSON; ``labels_path``: the label table)."""
    import pyarrow.parquet as pq

    from galssl.data import load_manifest
    from galssl.display import manifest_is_display
    from galssl.labelspec import ResolvedLabels
    from galssl.shards import read_images_for
    from galssl.tables import read_table

    manifest = load_manifest(manifest_path)
    objects = pd.concat([pq.read_table(path, columns=["object_id", "split"]).to_pandas() for path in shards],
                        ignore_index=True).drop_duplicates("object_id")
    labels = ResolvedLabels.from_json(labels_config) if labels_config else ResolvedLabels()  # none: no classes
    class_names, per_group, n_classes = None, per_split, 0
    if labels_path and labels.class_column:
        table = read_table(labels_path, "labels table").drop_duplicates("object_id")
        if labels.class_column not in table.columns:
            raise DataError(f"labels table {labels_path} has no class column {labels.class_column!r} "
                            "(labels.class_column)")
        values = pd.to_numeric(table.set_index("object_id")[labels.class_column], errors="coerce")
        objects["label"] = values.reindex(objects["object_id"]).fillna(-1).astype("int64").to_numpy()
        class_names, per_group = labels.class_name_map(table), per_class
        n_classes = int(objects.loc[objects["label"] >= 0, "label"].nunique())
    sample = choose_cutouts(objects, per_group, seed, class_names)
    if "label" in objects.columns:
        names = objects["label"].map(lambda value: _class_name(value, class_names) if value >= 0 else UNLABELLED)
        totals = names.value_counts().to_dict()
    else:
        totals = objects["split"].value_counts().to_dict()
    images = read_images_for(list(shards), sample["object_id"].tolist())
    display = manifest_is_display(manifest)
    shown = "display images as stored" if display else "asinh colour composites"
    grouping = "per class and split" if "label" in objects.columns else "per split"
    title = (f"{survey}: ingested {images.shape[-1]}-px cutouts as the encoders receive them ({shown}; dashed: the "
             f"{crop}-px centre crop the encoders see), random sample {grouping}, seed {seed}")
    return cutouts_figure(sample, images, list(manifest["bands"]), instrument, crop, display, title, per_group,
                          {str(k): int(v) for k, v in totals.items()}, max(0, n_classes - MAX_CLASSES))
