"""The mock sky's catalogue and labels tables (one row per object, keyed by ``object_id``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from galssl.gztree import DecisionTree
from galssl.instruments import load_instrument
from galssl.mocksky.labels import feature_visibility, simulate_votes
from galssl.mocksky.photometry import Photometry
from galssl.mocksky.render import body_flux_nmgy
from galssl.mocksky.sky import MockSky
from galssl.mocksky.truth import MockObject, object_rng


def total_magnitudes(obj: MockObject, photometry: Photometry) -> dict[str, float]:
    """Total AB magnitude of an object (all its bodies) in each band of the photometry's instrument."""
    mags = {}
    for band in photometry.instrument.bands:
        flux = sum(sum(body_flux_nmgy(body, band, photometry)) for body in obj.bodies)
        mags[band] = 22.5 - 2.5 * math.log10(flux) if flux > 0 else float("nan")
    return mags


VOTES_TREE = "gz2"
"""Galaxy Zoo tree the mock sky's simulated volunteers answer."""

LABEL_KEYS = ("galaxy10_class", "galaxy10_name", "redshift")
"""Truth keys every object of the mock sky has (galssl.mocksky.truth.build_object), the labels a run may name."""


def label_columns(tree_name: str = VOTES_TREE) -> list[str]:
    """Columns of ``labels_table`` that ``labels`` may name (class, names, redshift, vote fractions), known without
    building the sky: the workflow reads them when it plans which stages run."""
    from galssl.labelspec import tree_vote_columns

    return ["object_id", *LABEL_KEYS, *tree_vote_columns(tree_name)]


def labels_table(sky: MockSky, tree_name: str = VOTES_TREE) -> pd.DataFrame:
    """Truth, magnitudes and simulated Galaxy Zoo votes of every catalogue object."""
    settings = sky.settings
    instrument = load_instrument(settings.labels_instrument)
    photometry = sky.photometry(settings.labels_instrument)
    tree = DecisionTree.load(tree_name)
    rows = []
    for object_id in sky.object_ids:
        obj = sky.build(object_id)
        row: dict = {"object_id": object_id}
        row.update({key: value for key, value in obj.truth.items()})
        row.setdefault("artifact_kind", "")
        mags = total_magnitudes(obj, photometry)
        row.update({f"mag_{settings.labels_instrument}_{band}": mag for band, mag in mags.items()})
        reference_mag = mags[instrument.reference_band]
        r_eff = float(row.get("r_eff_arcsec", float("nan")))
        visibility = 0.0 if math.isnan(r_eff) or math.isnan(reference_mag) \
            else feature_visibility(r_eff, reference_mag, instrument)
        row["feature_visibility"] = visibility
        row.update(simulate_votes(obj, tree, visibility, settings.volunteers,
                                  object_rng(sky.seed, f"votes:{object_id}")))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["artifact_kind"] = table["artifact_kind"].fillna("").astype(str)
    for column in ("has_bar", "has_ring", "has_dust_lane", "is_merger"):
        table[column] = table[column].astype(bool)
    for column in ("galaxy10_class", "n_arms", "n_clumps"):
        table[column] = table[column].astype(np.int64)
    return table
