"""Galaxy Zoo-style volunteer votes simulated from the mock truth.

Each question's answer probabilities are set by the truth (class, axis ratio, bulge fraction, pitch angle, ...)
and then blended towards what volunteers answer for an unresolved blob, with a weight (feature visibility) that
falls with redshift-driven shrinking size relative to the PSF and with fading surface brightness — the
classification bias seen in real Galaxy Zoo (Bamford et al. 2009; Hart et al. 2016). Votes are multinomial draws
for a finite number of volunteers who walk down the decision tree.
"""

from __future__ import annotations

import math

import numpy as np

from galssl.gztree import DecisionTree, count_column, fraction_column, total_column
from galssl.instruments import Instrument
from galssl.mocksky.truth import MockObject

CONFUSION = 0.08
"""Share of volunteers answering at random on any question."""


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def feature_visibility(r_eff_arcsec: float, mag_reference: float, instrument: Instrument) -> float:
    """How visible internal structure is (0-1): resolution (R_e vs PSF FWHM) times brightness (vs depth)."""
    band = instrument.band(instrument.reference_band)
    resolution = r_eff_arcsec / band.psf_fwhm_arcsec
    bright = _sigmoid(-(mag_reference - (band.depth_mag - 4.5)) / 0.6)
    return _sigmoid((resolution - 1.2) / 0.3) * bright


def _peaked(n: int, index: int, peak: float = 0.7) -> np.ndarray:
    p = np.full(n, (1 - peak) / max(n - 1, 1) * 0.3)
    for neighbour in (index - 1, index + 1):
        if 0 <= neighbour < n:
            p[neighbour] += (1 - peak) * 0.7 / 2
    p[index] += peak
    return p / p.sum()


def true_answer_probabilities(obj: MockObject, visibility: float) -> dict[str, np.ndarray]:
    """Answer probabilities per question as an attentive volunteer would answer, given the visibility."""
    t = obj.truth
    cls = str(t.get("galaxy10_name", ""))
    v = visibility
    blob_smooth = np.array([0.85, 0.12, 0.03])
    if obj.object_type == "star":
        sof = np.array([0.12, 0.03, 0.85])
    elif obj.object_type == "artifact":
        sof = np.array([0.10, 0.10, 0.80])
    elif cls.endswith("smooth"):
        sof = np.array([0.86, 0.12, 0.02])
    elif cls in ("merging", "disturbed"):
        sof = v * np.array([0.30, 0.66, 0.04]) + (1 - v) * blob_smooth
    else:
        sof = v * np.array([0.08, 0.90, 0.02]) + (1 - v) * blob_smooth
    q = float(t.get("axis_ratio", 1.0)) if not math.isnan(float(t.get("axis_ratio", float("nan")))) else 1.0
    edge_on = 0.92 if cls.startswith("edge_on") else 0.03 + 0.8 * _sigmoid((0.3 - q) / 0.05)
    bar = v * (0.82 if t.get("has_bar") else 0.06) + (1 - v) * 0.05
    spiral_true = {"barred_spiral": 0.9, "unbarred_tight_spiral": 0.93, "unbarred_loose_spiral": 0.93,
                   "disturbed": 0.35, "merging": 0.3}.get(cls, 0.6 if int(t.get("n_arms", 0)) > 0 else 0.1)
    spiral = v * spiral_true + (1 - v) * 0.1
    bulge_fraction = float(t.get("bulge_fraction", 0.5))
    bulge_fraction = 0.5 if math.isnan(bulge_fraction) else bulge_fraction
    bulge_index = 0 if bulge_fraction < 0.05 else 1 if bulge_fraction < 0.2 else 2 if bulge_fraction < 0.45 else 3
    bulge = v * _peaked(4, bulge_index) + (1 - v) * np.array([0.1, 0.3, 0.4, 0.2])
    roundness_index = 0 if q > 0.8 else 1 if q > 0.45 else 2
    rounded = _peaked(3, roundness_index, 0.75)
    has_bulge = bulge_fraction > 0.15
    edge_bulge = np.array([0.72, 0.16, 0.12]) if has_bulge else np.array([0.15, 0.05, 0.80])
    pitch = float(t.get("pitch_deg", float("nan")))
    winding_index = 1 if math.isnan(pitch) else 0 if pitch < 13 else 1 if pitch < 22 else 2
    winding = v * _peaked(3, winding_index, 0.65) + (1 - v) * np.array([0.3, 0.45, 0.25])
    n_arms = int(t.get("n_arms", 0))
    arm_index = 5 if n_arms == 0 else min(n_arms, 5) - 1
    arms = v * _peaked(6, arm_index, 0.6) + (1 - v) * np.array([0.05, 0.2, 0.05, 0.02, 0.03, 0.65])
    odd_true = 0.85 if cls == "merging" else 0.75 if cls == "disturbed" else 0.6 if t.get("has_ring") else \
        0.4 if t.get("has_dust_lane") else 0.12
    odd = v * odd_true + (1 - v) * 0.1
    # odd_feature answers: ring, lens_or_arc, disturbed, irregular, other, merger, dust_lane
    if cls == "merging":
        odd_kind = np.array([0.02, 0.03, 0.2, 0.05, 0.03, 0.65, 0.02])
    elif cls == "disturbed":
        odd_kind = np.array([0.03, 0.04, 0.45, 0.33, 0.05, 0.08, 0.02])
    elif t.get("has_ring"):
        odd_kind = np.array([0.72, 0.05, 0.05, 0.04, 0.1, 0.02, 0.02])
    elif t.get("has_dust_lane"):
        odd_kind = np.array([0.03, 0.05, 0.05, 0.04, 0.18, 0.02, 0.63])
    else:
        odd_kind = np.array([0.08, 0.15, 0.15, 0.15, 0.37, 0.05, 0.05])
    return {
        "smooth_or_featured": sof, "disk_edge_on": np.array([edge_on, 1 - edge_on]), "bar": np.array([bar, 1 - bar]),
        "has_spiral_arms": np.array([spiral, 1 - spiral]), "bulge_prominence": bulge,
        "anything_odd": np.array([odd, 1 - odd]), "how_rounded": rounded, "odd_feature": odd_kind,
        "edge_on_bulge_shape": edge_bulge, "spiral_winding": winding, "spiral_arm_count": arms,
    }


def simulate_votes(obj: MockObject, tree: DecisionTree, visibility: float, volunteers: int,
                   rng: np.random.Generator) -> dict[str, float | int]:
    """Vote counts, totals and fractions for every question of ``tree`` from a walk of the volunteers."""
    probabilities = true_answer_probabilities(obj, visibility)
    n_total = max(5, int(rng.poisson(volunteers)))
    counts: dict[tuple[str, str], int] = {}
    row: dict[str, float | int] = {}
    for question in tree.questions:
        n = n_total if not question.requires else sum(counts[pair] for pair in question.requires)
        p = probabilities[question.name]
        p = (1 - CONFUSION) * p / p.sum() + CONFUSION / len(p)
        drawn = rng.multinomial(n, p) if n > 0 else np.zeros(len(p), dtype=int)
        row[total_column(question.name)] = int(n)
        for answer, count in zip(question.answers, drawn):
            counts[(question.name, answer)] = int(count)
            row[count_column(question.name, answer)] = int(count)
            row[fraction_column(question.name, answer)] = float(count) / n if n > 0 else float("nan")
    return row
