"""Photometric redshifts from frozen embeddings: a classifier over redshift bins (Hayat et al. 2021: 180 bins on
[0, 0.4]; ``galssl.binned_redshift``) trained with cross-entropy; z_phot = E[z] of its PDF; metrics vs the share of
train labels used.

Galaxies whose spectroscopic redshift lies outside the binned range are trained on the edge bin and still
evaluated; every test galaxy with a redshift is scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from galssl.binned_redshift import BinnedRedshiftClassifier, PhotozSettings, photoz_scores, training_subsets
from galssl.errors import DataError
from galssl.evaluate.labelled import LabelledEmbeddings, standardise
from galssl.metric_table import metric_frame, metric_rows


def fit_photoz(x_train: np.ndarray, z_train: np.ndarray, x_val: np.ndarray, z_val: np.ndarray,
               settings: PhotozSettings, seed: int) -> BinnedRedshiftClassifier:
    """The classifier of the settings, early-stopped on the val cross-entropy (its model selection)."""
    model = BinnedRedshiftClassifier(settings.bin_edges, settings.hidden_units, settings.target_smoothing_bins,
                                     settings.weight_decay, settings.lr, settings.max_epochs, settings.patience)
    return model.fit(x_train, z_train, x_val, z_val, seed)


def run_photoz(data: LabelledEmbeddings, settings: PhotozSettings, seed: int,
               log=print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit at every train fraction and seed; (tidy metrics on test with n_labels = train galaxies used, test
    predictions object_id/z_spec/z_phot/pit/crps of the full-train fit of the first seed)."""
    z = pd.to_numeric(pd.Series(data.column(settings.redshift_column, "the label table (labels.redshift_column)")),
                      errors="coerce").to_numpy(dtype=float)
    has_z = np.isfinite(z)
    split = data.split
    train, val, test = (has_z & (split == s) for s in ("train", "val", "test"))
    if train.sum() < 2 or test.sum() == 0:
        raise DataError(f"labels.redshift_column {settings.redshift_column!r}: need train and test galaxies with a "
                        f"redshift (got {int(train.sum())} train, {int(test.sum())} test)")
    x_train, x_val, x_test = standardise(data.vectors[train], data.vectors[val], data.vectors[test])
    z_train, z_val, z_test = z[train], z[val], z[test]
    rows, predictions = [], None
    for replicate in range(settings.seeds):
        subset_seed = seed + replicate
        for fraction, chosen in training_subsets(len(z_train), settings.train_fractions, subset_seed).items():
            model = fit_photoz(x_train[chosen], z_train[chosen], x_val, z_val, settings, subset_seed)
            values, per_object = photoz_scores(model, x_test, z_test)
            rows += metric_rows(data.method, "photoz", len(chosen), subset_seed, "test", values)
            log(f"{data.method} photoz: fraction {fraction} ({len(chosen)} galaxies), seed {subset_seed}: "
                f"sigma_mad={values['sigma_mad']:.4f} eta={values['eta']:.2f}% bias={values['bias']:+.4f}")
            if replicate == 0 and len(chosen) == len(z_train):
                predictions = per_object.assign(object_id=data.object_ids[test])
    if predictions is None:  # 1.0 not among the fractions: the predictions figure shows the full-train fit anyway
        model = fit_photoz(x_train, z_train, x_val, z_val, settings, seed)
        predictions = photoz_scores(model, x_test, z_test)[1].assign(object_id=data.object_ids[test])
    columns = ["object_id", "z_spec", "z_phot", "pit", "crps"]
    return metric_frame(rows), predictions[columns]
