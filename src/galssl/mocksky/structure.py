"""Surface-brightness components of mock galaxies, defined in each galaxy's own plane (arcsec).

Hand-written on purpose: GalSim has Sérsic profiles but no spiral arms, bars, rings or tidal tails, and drawing
dozens of GalSim objects per band is far slower than evaluating these closed forms once per object. Each
component has unit total flux in the galaxy plane; projection (inclination) and PSF happen in ``render``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from scipy.special import gamma, gammaincinv


@lru_cache(maxsize=4096)
def sersic_b(n: float) -> float:
    """The Sérsic b_n such that R_e encloses half the light (exact, via the inverse incomplete gamma)."""
    return float(gammaincinv(2 * n, 0.5))


def _polar_integral(profile, scale: float) -> float:
    """Integrate an in-plane profile over the plane on a log-polar grid (handles cusps and spiral patterns)."""
    radii = np.geomspace(scale * 1e-4, scale * 20, 240)
    angles = np.linspace(0, 2 * np.pi, 73)[:-1]
    rr, tt = np.meshgrid(radii, angles)
    values = profile(rr * np.cos(tt), rr * np.sin(tt)) * rr**2  # f r dr = f r^2 dln r
    return float(np.trapezoid(values.mean(axis=0), np.log(radii)) * 2 * np.pi)


@dataclass(frozen=True)
class Sersic:
    """Sérsic profile with half-light radius ``r_eff`` (arcsec), in-plane axis ratio ``q_inplane`` (bars: < 1)."""

    n: float
    r_eff: float
    q_inplane: float = 1.0
    angle_rad: float = 0.0

    def profile(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.angle_rad), math.sin(self.angle_rad)
        xr, yr = x * c + y * s, (-x * s + y * c) / self.q_inplane
        r = np.sqrt(xr * xr + yr * yr)
        return np.exp(-sersic_b(self.n) * (r / self.r_eff) ** (1.0 / self.n))

    @cached_property
    def total(self) -> float:
        b = sersic_b(self.n)
        return 2 * np.pi * self.n * self.r_eff**2 * gamma(2 * self.n) / b ** (2 * self.n) * self.q_inplane

    @property
    def extent(self) -> float:
        return self.r_eff * (6.0 if self.n < 2.5 else 10.0)


@dataclass(frozen=True)
class SpiralArms:
    """Logarithmic spiral arms riding on an exponential disk of scale length ``h`` (arcsec).

    ``pitch_deg`` is the pitch angle (tight ~10°, loose ~30°); arms start outside ``r_start``; ``sharpness``
    narrows the arms; ``ripple`` modulates brightness along each arm (star-forming knots and gaps).
    """

    n_arms: int
    pitch_deg: float
    h: float
    r_start: float
    phase_rad: float
    sharpness: float = 4.0
    ripple: float = 0.3
    ripple_phase: float = 0.0

    def profile(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = np.sqrt(x * x + y * y) + 1e-6 * self.h
        theta = np.arctan2(y, x)
        winding = np.log(r / self.h) / math.tan(math.radians(self.pitch_deg))
        pattern = (0.5 * (1 + np.cos(self.n_arms * (theta - self.phase_rad - winding)))) ** self.sharpness
        along = 1 + self.ripple * np.sin(3 * winding + self.ripple_phase)
        onset = 1 - np.exp(-((r / self.r_start) ** 3))
        return np.exp(-r / self.h) * pattern * along * onset

    @cached_property
    def total(self) -> float:
        return _polar_integral(self.profile, self.h)

    @property
    def extent(self) -> float:
        return 6.0 * self.h


@dataclass(frozen=True)
class Ring:
    """Gaussian annulus of radius ``radius`` and width ``width`` (arcsec)."""

    radius: float
    width: float

    def profile(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = np.sqrt(x * x + y * y)
        return np.exp(-0.5 * ((r - self.radius) / self.width) ** 2)

    @cached_property
    def total(self) -> float:
        return _polar_integral(self.profile, self.radius)

    @property
    def extent(self) -> float:
        return self.radius + 4 * self.width


@dataclass(frozen=True)
class Lopsided:
    """Exponential disk with an m=1 asymmetry growing outwards (disturbed, interacting galaxies)."""

    h: float
    amplitude: float
    angle_rad: float

    def profile(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = np.sqrt(x * x + y * y)
        theta = np.arctan2(y, x)
        lopsided = 1 + self.amplitude * (r / self.h) * np.cos(theta - self.angle_rad)
        return np.exp(-r / self.h) * np.clip(lopsided, 0, None)

    @cached_property
    def total(self) -> float:
        return _polar_integral(self.profile, self.h)

    @property
    def extent(self) -> float:
        return 7.0 * self.h


@dataclass(frozen=True)
class Knots:
    """A set of Gaussian knots (star-forming clumps, tidal-tail debris); positions and sigmas in arcsec."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    sigma: tuple[float, ...]
    weight: tuple[float, ...]

    def profile(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast(x, y).shape)
        for xk, yk, sk, wk in zip(self.x, self.y, self.sigma, self.weight):
            # Each knot only touches pixels within 5 sigma: evaluate it there (knots are small, grids large).
            near = (np.abs(x - xk) < 5 * sk) & (np.abs(y - yk) < 5 * sk)
            if near.any():
                d2 = (x[near] - xk) ** 2 + (y[near] - yk) ** 2
                out[near] += wk / (2 * np.pi * sk * sk) * np.exp(-0.5 * d2 / (sk * sk))
        return out

    @cached_property
    def total(self) -> float:
        return float(sum(self.weight))

    @property
    def extent(self) -> float:
        if not self.x:
            return 0.0
        return float(max(math.hypot(xk, yk) + 4 * sk for xk, yk, sk in zip(self.x, self.y, self.sigma)))


Shape = Sersic | SpiralArms | Ring | Lopsided | Knots


@dataclass(frozen=True)
class Component:
    """One stellar population: a shape, its SED template and its share of the body's rest-frame r light.

    ``projected`` components lie in the disk plane and are foreshortened by the body's axis ratio; others
    (tidal debris) are drawn on the sky as they are.
    """

    shape: Shape
    sed: str
    light_fraction: float
    projected: bool = True


@dataclass(frozen=True)
class DustLane:
    """Mid-plane dust of an edge-on disk: optical depth ``tau_v`` at 550 nm, Gaussian height ``width`` (arcsec)."""

    tau_v: float
    width: float


@dataclass(frozen=True)
class Body:
    """A galaxy (or star) on the sky: centre offset (arcsec, east/north of the target), orientation, components.

    ``pa_deg`` is the position angle of the major axis east of north; ``axis_ratio`` the projected b/a.
    ``absolute_mag_r`` is rest-frame SDSS r; ``redshift`` sets distance and colours.
    """

    dx_arcsec: float
    dy_arcsec: float
    pa_deg: float
    axis_ratio: float
    absolute_mag_r: float
    redshift: float
    components: tuple[Component, ...]
    dust: DustLane | None = None
    star_mag_r: float | None = None
    star_temperature_index: int = 0
    extent_arcsec: float = field(default=0.0)

    @property
    def is_star(self) -> bool:
        return self.star_mag_r is not None

    def extent(self) -> float:
        """Radius (arcsec) outside which the body's light is negligible."""
        if self.is_star:
            return 0.0
        return max(component.shape.extent for component in self.components)


def to_galaxy_plane(xi: np.ndarray, eta: np.ndarray, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """Sky offsets (arcsec, east/north, relative to the body centre) to deprojected disk-plane coordinates."""
    pa = math.radians(body.pa_deg)
    major = xi * math.sin(pa) + eta * math.cos(pa)
    minor = -xi * math.cos(pa) + eta * math.sin(pa)
    return major, minor / body.axis_ratio
