"""Plain data a stage's figure rule hands to the drawing layer (``galssl.plots``): read by the stage
(``galssl.maps.figure_data``), drawn by plots, so neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StationarityPanel:
    """One map's stationarity: background coords (N, 2), each galaxy's place (n, 2), its paths per transform
    ({name: (n, steps, 2)}), and the scores the compute rule wrote (overall and per transform)."""

    name: str
    coords: np.ndarray
    reference: np.ndarray
    paths: Mapping[str, np.ndarray]
    score: float
    transform_scores: Mapping[str, float]
