"""Label efficiency: class probes refitted on nested, stratified subsets of N = 2^k labelled train galaxies.

Within one seed the subset of N galaxies is the first N of one stratified ordering of the train split, so it is a
prefix of the subset of 2N, and every class holds its train share of it to within about one galaxy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from galssl import metrics
from galssl.errors import ConfigError, DataError
from galssl.evaluate.labelled import LabelledEmbeddings, standardise
from galssl.evaluate.probes import ProbeSettings, class_labels, fit_selected
from galssl.label_subsets import nested_stratified_order
from galssl.metric_table import metric_frame, metric_rows
from galssl.settings import parse_section, schema_defaults


@dataclass(frozen=True)
@schema_defaults("probes.label_efficiency")
class LabelEfficiencySettings:
    """The ``probes.label_efficiency`` config section (defaults = the schema's); ``supervised_from_scratch`` is read by
    the from-scratch baseline rules (galssl.evaluate.baseline)."""

    min_log2: int
    max_log2: int
    seeds: int
    classifiers: tuple[str, ...]
    supervised_from_scratch: bool
    scratch_steps: int | None
    scratch_seeds: int

    @classmethod
    def from_section(cls, section: dict | None) -> LabelEfficiencySettings:
        """Parse the config section (``galssl.settings.parse_section``)."""
        return parse_section(cls, section, "probes.label_efficiency")

    def check(self) -> None:
        """min_log2 <= max_log2."""
        if self.min_log2 > self.max_log2:
            raise ConfigError(f"config error: probes.label_efficiency.min_log2 must be <= max_log2 "
                              f"(got {self.min_log2} > {self.max_log2})")


def subset_sizes(n_available: int, min_log2: int, max_log2: int) -> list[int]:
    """N = 2^min_log2 ... 2^max_log2, capped by the number of labelled train galaxies (the cap itself is the last
    size when some 2^k exceeds it)."""
    sizes = sorted({min(2 ** k, n_available) for k in range(min_log2, max_log2 + 1)})
    return [n for n in sizes if n > 0]


def nested_subsets(labels: np.ndarray, sizes: list[int], seed: int) -> dict[int, np.ndarray]:
    """Indices into ``labels`` of the subset of each size (prefixes of one stratified ordering)."""
    order = nested_stratified_order(labels, seed)
    return {n: np.sort(order[:n]) for n in sizes}


def validation_positions(val_labels: np.ndarray, n_labels: int, seed: int) -> np.ndarray:
    """Sorted positions of the at most ``n_labels`` val galaxies that select hyper-parameters at N = ``n_labels``:
    the first of the seed's stratified ordering of ``val_labels`` (labelled val galaxies sorted by object_id)."""
    return np.sort(nested_stratified_order(val_labels, seed)[:n_labels])


def run_label_efficiency(data: LabelledEmbeddings, probes: ProbeSettings, settings: LabelEfficiencySettings,
                         seed: int, log=print) -> pd.DataFrame:
    """Tidy rows (method, task=classes_<probe>, n_labels, seed, split=test, accuracy / balanced_accuracy /
    macro_f1) for every subset size, seed (``seed`` + replicate) and classifier, the probes fitted with
    ``probes.class_weight``. Hyper-parameters at N are chosen on at most N labelled val galaxies
    (:func:`validation_positions`; the from-scratch run at N selects its epoch on the same ones), so no point of the
    curve used more labels than its N.

    Features are standardised with every train-split embedding (no labels needed for that).
    """
    y = class_labels(data, probes.class_column)
    split = data.split
    x_train_all, x_val, x_test = standardise(data.vectors[split == "train"], data.vectors[split == "val"],
                                             data.vectors[split == "test"])
    y_train_all, y_val, y_test = y[split == "train"], y[split == "val"], y[split == "test"]
    # Labelled train galaxies sorted by object_id: the order galssl.evaluate.baseline draws the same subsets from.
    train_ids = data.object_ids[split == "train"]
    labelled = np.flatnonzero(y_train_all >= 0)
    labelled = labelled[np.argsort(train_ids[labelled], kind="stable")]
    # Labelled val galaxies sorted by object_id, as galssl.evaluate.baseline.validation_subset draws them.
    val_ids = data.object_ids[split == "val"]
    val_labelled = np.flatnonzero(y_val >= 0)
    val_labelled = val_labelled[np.argsort(val_ids[val_labelled], kind="stable")]
    x_val, y_val = x_val[val_labelled], y_val[val_labelled]
    x_test, y_test = x_test[y_test >= 0], y_test[y_test >= 0]
    if len(np.unique(y_train_all[labelled])) < 2 or len(y_test) == 0:
        raise DataError(f"label efficiency needs train galaxies of at least two classes and test galaxies in "
                        f"{probes.class_column!r} (got {len(labelled)} train, {len(y_test)} test)")
    sizes = subset_sizes(len(labelled), settings.min_log2, settings.max_log2)
    rows = []
    for replicate in range(settings.seeds):
        subset_seed = seed + replicate
        subsets = nested_subsets(y_train_all[labelled], sizes, subset_seed)
        for n_labels, positions in subsets.items():
            chosen = labelled[positions]
            y_subset = y_train_all[chosen]
            selection = validation_positions(y_val, n_labels, subset_seed)
            for kind in settings.classifiers:
                if len(np.unique(y_subset)) < 2:
                    # One class only: every classifier predicts it; score that honestly instead of skipping.
                    guess = np.full_like(y_test, y_subset[0])
                else:
                    model, _ = fit_selected(kind, probes, x_train_all[chosen], y_subset, x_val[selection],
                                            y_val[selection], subset_seed)
                    guess = model.predict(x_test)
                rows += metric_rows(data.method, f"classes_{kind}", n_labels, subset_seed, "test",
                                    metrics.class_metrics(y_test, guess))
        log(f"{data.method} label efficiency: seed {subset_seed} done (N = {', '.join(map(str, sizes))})")
    return metric_frame(rows)


def labels_needed(table: pd.DataFrame, target: float, metric: str = "accuracy") -> pd.DataFrame:
    """Smallest N at which each (method, task)'s seed-mean ``metric`` reaches ``target`` (NaN if never)."""
    chosen = table[table["metric"] == metric]
    mean = chosen.groupby(["method", "task", "n_labels"], as_index=False)["value"].mean()
    rows = []
    for (method, task), group in mean.groupby(["method", "task"]):
        reached = group.loc[group["value"] >= target, "n_labels"]
        rows.append({"method": method, "task": task, "target": target,
                     "n_labels_needed": float(reached.min()) if len(reached) else float("nan")})
    return pd.DataFrame(rows, columns=["method", "task", "target", "n_labels_needed"])
