"""Schematic galaxy symbols, drawn by code: the icons GalaxAlign pairs with images and text (one per class).

Galaxy Zoo shows its volunteers small schematic icons (round, in-between and cigar-shaped ellipses, edge-on disks,
spiral arms, bars, mergers); GalaxAlign (Wang et al. 2024) aligns galaxy images with such symbols. Here each
Galaxy10 class has one symbol: bright shapes on a black background (as galaxies appear in a cutout), major axis
horizontal, drawn with PIL at 4x the target size and downsampled (anti-aliased). No random numbers: a symbol is
the same array on every machine.

>>> draw_symbol("edge_on_with_bulge", 64).shape
(64, 64)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from galssl.errors import ConfigError
from galssl.io import atomic_path

SUPERSAMPLE = 4
"""Symbols are drawn at this multiple of the target size and box-filtered down (anti-aliasing)."""

Point = tuple[float, float]


class Canvas:
    """A square grey-scale drawing in unit coordinates: (0, 0) is the centre, x right, y up, the edge at +-1."""

    def __init__(self, size: int) -> None:
        self.size = size * SUPERSAMPLE
        self.image = Image.new("L", (self.size, self.size), 0)
        self.draw = ImageDraw.Draw(self.image)

    def pixel(self, x: float, y: float) -> Point:
        """Unit coordinates → supersampled pixel coordinates."""
        half = self.size / 2
        return half + x * half, half - y * half

    def ellipse(self, x: float, y: float, a: float, b: float, level: float = 1.0) -> None:
        """Filled axis-aligned ellipse with semi-axes ``a`` (x) and ``b`` (y)."""
        left, top = self.pixel(x - a, y + b)
        right, bottom = self.pixel(x + a, y - b)
        self.draw.ellipse((left, top, right, bottom), fill=int(round(255 * level)))

    def smooth_ellipse(self, x: float, y: float, a: float, b: float, steps: int = 10) -> None:
        """Concentric ellipses brightening inwards: a smooth, centrally concentrated light profile."""
        for step in range(steps):
            scale = 1.0 - step / steps
            self.ellipse(x, y, a * scale, b * scale, level=0.35 + 0.65 * (step + 1) / steps)

    def polygon(self, points: Sequence[Point], level: float = 1.0) -> None:
        """Filled polygon."""
        self.draw.polygon([self.pixel(px, py) for px, py in points], fill=int(round(255 * level)))

    def line(self, points: Sequence[Point], width: float, level: float = 1.0) -> None:
        """A curve of ``width`` (unit coordinates) through ``points``, drawn as overlapping discs (a smooth tube
        with round ends, free of the notches of thick polyline joints)."""
        radius = width / 2
        step = radius / 4
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
            n = max(1, int(math.ceil(math.hypot(x1 - x0, y1 - y0) / step)))
            for i in range(n + 1):
                self.ellipse(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, radius, radius, level)

    def array(self, size: int) -> np.ndarray:
        """(size, size) float32 in [0, 1], box-filtered down from the supersampled drawing."""
        small = self.image.resize((size, size), Image.Resampling.BOX)
        return np.asarray(small, dtype=np.float32) / 255.0


def _spiral_arm(start_angle: float, pitch_deg: float, r_start: float, r_end: float, n: int = 200) -> list[Point]:
    """A logarithmic spiral arm r = r_start exp(tan(pitch) θ) from ``r_start`` out to ``r_end``."""
    tan_pitch = math.tan(math.radians(pitch_deg))
    theta_end = math.log(r_end / r_start) / tan_pitch
    points = []
    for i in range(n):
        theta = theta_end * i / (n - 1)
        radius = r_start * math.exp(tan_pitch * theta)
        points.append((radius * math.cos(start_angle + theta), radius * math.sin(start_angle + theta)))
    return points


def _bezier(start: Point, control: Point, end: Point, n: int = 60) -> list[Point]:
    """Quadratic Bézier curve from ``start`` to ``end`` bent towards ``control``."""
    return [((1 - t) ** 2 * start[0] + 2 * (1 - t) * t * control[0] + t ** 2 * end[0],
             (1 - t) ** 2 * start[1] + 2 * (1 - t) * t * control[1] + t ** 2 * end[1])
            for t in (i / (n - 1) for i in range(n))]


def _round_smooth(canvas: Canvas) -> None:
    canvas.smooth_ellipse(0, 0, 0.7, 0.7)


def _in_between_round_smooth(canvas: Canvas) -> None:
    canvas.smooth_ellipse(0, 0, 0.75, 0.45)


def _cigar_shaped_smooth(canvas: Canvas) -> None:
    canvas.smooth_ellipse(0, 0, 0.85, 0.22)


def _edge_on_without_bulge(canvas: Canvas) -> None:
    canvas.ellipse(0, 0, 0.92, 0.07)


def _edge_on_with_bulge(canvas: Canvas) -> None:
    canvas.ellipse(0, 0, 0.92, 0.07)
    canvas.smooth_ellipse(0, 0, 0.3, 0.24, steps=6)


def _spiral(canvas: Canvas, pitch_deg: float) -> None:
    canvas.smooth_ellipse(0, 0, 0.2, 0.2, steps=5)
    for start in (0.0, math.pi):
        canvas.line(_spiral_arm(start, pitch_deg, 0.16, 0.88), width=0.09)


def _unbarred_tight_spiral(canvas: Canvas) -> None:
    _spiral(canvas, pitch_deg=11.0)


def _unbarred_loose_spiral(canvas: Canvas) -> None:
    _spiral(canvas, pitch_deg=28.0)


def _barred_spiral(canvas: Canvas) -> None:
    half_bar = 0.38
    canvas.line([(-half_bar, 0.0), (half_bar, 0.0)], width=0.16)
    canvas.smooth_ellipse(0, 0, 0.17, 0.17, steps=5)
    # Each arm leaves an end of the bar and winds half a turn outwards.
    for sign in (1.0, -1.0):
        arm = [(sign * x, sign * y) for x, y in _spiral_arm(0.0, 22.0, half_bar, 0.9)]
        canvas.line(arm, width=0.09)


def _merging(canvas: Canvas) -> None:
    # Two overlapping galaxies with tidal tails pulled out in opposite directions (as in the Antennae).
    for sign in (1.0, -1.0):
        tail = _bezier((0.4 * sign, 0.3 * sign), (0.75 * sign, 0.85 * sign), (-0.1 * sign, 0.82 * sign))
        canvas.line(tail, width=0.07, level=0.6)
    canvas.smooth_ellipse(-0.2, -0.1, 0.42, 0.34)
    canvas.smooth_ellipse(0.28, 0.14, 0.32, 0.27)


# Outline of the disturbed galaxy: r(θ) = 0.6 + Σ a cos(kθ + φ) with hand-picked terms (no random numbers).
_DISTURBED_OUTLINE = ((2, 0.14, 0.5), (3, 0.12, 2.0), (5, 0.07, 1.0))


def _disturbed(canvas: Canvas) -> None:
    n = 120
    outline = []
    for i in range(n):
        theta = 2 * math.pi * i / n
        radius = 0.6 + sum(a * math.cos(k * theta + phase) for k, a, phase in _DISTURBED_OUTLINE)
        outline.append((radius * math.cos(theta), 0.9 * radius * math.sin(theta)))
    canvas.polygon(outline, level=0.5)
    for x, y, radius in ((-0.25, 0.15, 0.15), (0.3, -0.12, 0.11), (0.05, 0.32, 0.08), (-0.1, -0.3, 0.09)):
        canvas.ellipse(x, y, radius, radius, level=1.0)  # bright star-forming clumps


SYMBOLS: dict[str, Callable[[Canvas], None]] = {
    "disturbed": _disturbed,
    "merging": _merging,
    "round_smooth": _round_smooth,
    "in_between_round_smooth": _in_between_round_smooth,
    "cigar_shaped_smooth": _cigar_shaped_smooth,
    "barred_spiral": _barred_spiral,
    "unbarred_tight_spiral": _unbarred_tight_spiral,
    "unbarred_loose_spiral": _unbarred_loose_spiral,
    "edge_on_without_bulge": _edge_on_without_bulge,
    "edge_on_with_bulge": _edge_on_with_bulge,
}
"""Symbol drawers by class name, in Galaxy10 DECaLS label order (0-9)."""


def check_symbol_names(names: Sequence[str], where: str) -> None:
    """Raise a ConfigError naming ``where`` unless every name has a symbol."""
    unknown = [name for name in names if name not in SYMBOLS]
    if unknown:
        raise ConfigError(f"{where} has {unknown[0]!r}, which has no symbol (known: {', '.join(SYMBOLS)})")


def draw_symbol(name: str, size: int = 64) -> np.ndarray:
    """The symbol of class ``name`` as a (size, size) float32 array in [0, 1] (1 = brightest)."""
    check_symbol_names([name], "symbol name")
    if size < 8:
        raise ConfigError(f"symbol size must be >= 8 pixels (got {size})")
    canvas = Canvas(size)
    SYMBOLS[name](canvas)
    return canvas.array(size)


def draw_symbols(names: Sequence[str], size: int = 64) -> np.ndarray:
    """(len(names), size, size) float32 stack of symbols."""
    return np.stack([draw_symbol(name, size) for name in names]) if names else np.zeros((0, size, size), np.float32)


def write_symbol_png(name: str, path: str | os.PathLike[str], size: int = 128) -> None:
    """Write one symbol as an 8-bit grey-scale PNG, atomically."""
    image = Image.fromarray(np.round(draw_symbol(name, size) * 255).astype(np.uint8), mode="L")
    with atomic_path(Path(path), suffix=".tmp.png") as tmp:
        image.save(tmp, format="PNG")
