"""Physical truth of mock objects: class, redshift, luminosity, size and structure, from (seed, object_id).

Recipes per Galaxy10 class follow the morphology a Galaxy Zoo volunteer would see: bulge-to-total ratios,
spiral pitch angles (tight ~7-14°, loose ~22-35°), bars with inner rings, thin edge-on disks with dust lanes,
mergers with two cores and tidal tails. Sizes follow early/late-type size-luminosity relations (Shen et al. 2003)
and are turned into angles with the configured cosmology, so features fade with redshift as in real surveys.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from galssl.mocksky.photometry import STAR_TEMPERATURES_K, Photometry
from galssl.mocksky.settings import GALAXY10_CLASSES
from galssl.mocksky.structure import Body, Component, DustLane, Knots, Lopsided, Ring, Sersic, SpiralArms

OBJECT_TYPES = ("galaxy", "star", "artifact")
ARTIFACT_KINDS = ("satellite_trail", "cosmic_ray", "saturated_star")


def object_rng(seed: int, key: str) -> np.random.Generator:
    """A generator that depends only on (seed, key): stable across processes, platforms and object order."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "little")])


@dataclass
class MockObject:
    """Everything needed to render and label one catalogue object."""

    object_id: str
    object_type: str
    bodies: list[Body]
    truth: dict[str, float | int | str | bool] = field(default_factory=dict)
    artifact_kind: str | None = None


def redshift_draw(rng: np.random.Generator, z_min: float, z_max: float) -> float:
    """Redshift from an SDSS main-sample-like distribution, p(z) ∝ z² exp(-(z/0.07)^1.6), truncated to the range.

    Rejection sampling keeps the draw exact for any configured range.
    """
    z_peak = 0.07 * (2 / 1.6) ** (1 / 1.6)
    p_max = z_peak**2 * math.exp(-((z_peak / 0.07) ** 1.6)) if z_min <= z_peak <= z_max else max(
        z**2 * math.exp(-((z / 0.07) ** 1.6)) for z in (z_min, z_max))
    while True:
        z = rng.uniform(z_min, z_max)
        if rng.uniform(0, p_max) <= z**2 * math.exp(-((z / 0.07) ** 1.6)):
            return float(z)


def _projected_axis_ratio(inclination_deg: float, thickness: float) -> float:
    """Hubble (1926): b/a of a disk of intrinsic thickness q0 seen at inclination i."""
    i = math.radians(inclination_deg)
    return math.sqrt(math.cos(i) ** 2 + thickness**2 * math.sin(i) ** 2)


def _tidal_tail(rng: np.random.Generator, scale: float, angle: float, length: float, curl: float) -> Knots:
    """A curved chain of fading Gaussian knots starting near the body centre (sky frame, arcsec)."""
    n = 24
    t = np.linspace(0.15, 1.0, n)
    radius = scale + length * t
    phi = angle + curl * t
    sigma = scale * (0.25 + 0.5 * t) * rng.uniform(0.8, 1.2, n)
    weight = np.exp(-2.0 * t) * rng.uniform(0.6, 1.4, n)
    weight /= weight.sum()
    return Knots(tuple(radius * np.cos(phi)), tuple(radius * np.sin(phi)), tuple(sigma), tuple(weight))


def _clumps(rng: np.random.Generator, n: int, h: float, r_min: float = 0.3) -> Knots:
    """Star-forming clumps scattered over a disk of scale length h (disk plane, arcsec)."""
    radius = h * (r_min + rng.gamma(2.0, 0.8, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    sigma = h * rng.uniform(0.08, 0.18, n)
    weight = rng.uniform(0.5, 1.5, n)
    weight /= weight.sum()
    return Knots(tuple(radius * np.cos(phi)), tuple(radius * np.sin(phi)), tuple(sigma), tuple(weight))


def _sizes(rng: np.random.Generator, absolute_mag: float, early: bool) -> float:
    """Half-light radius (kpc) from a size-luminosity relation with 0.15 dex scatter."""
    if early:
        return 4.0 * 10 ** (-0.26 * (absolute_mag + 21.5) + rng.normal(0, 0.15))
    return 5.5 * 10 ** (-0.12 * (absolute_mag + 21.0) + rng.normal(0, 0.15))


def _spheroid(rng, cls: str, absolute_mag: float, z: float, kpc_arcsec: float, truth: dict) -> Body:
    r_eff = _sizes(rng, absolute_mag, early=True)
    if cls == "round_smooth":
        q, n, disk_frac = rng.uniform(0.8, 1.0), rng.uniform(3.0, 5.5), 0.0
    elif cls == "in_between_round_smooth":
        q, n, disk_frac = rng.uniform(0.5, 0.8), rng.uniform(2.5, 4.5), rng.choice([0.0, rng.uniform(0.2, 0.5)])
    else:  # cigar-shaped: elongated spheroids and inclined lenticulars
        q, n, disk_frac = rng.uniform(0.2, 0.42), rng.uniform(1.5, 4.0), rng.uniform(0.0, 0.5)
    components = [Component(Sersic(n, r_eff / kpc_arcsec), "E", 1.0 - disk_frac)]
    if disk_frac > 0:
        components.append(Component(Sersic(1.0, 1.3 * r_eff / kpc_arcsec), "E", disk_frac))
    truth.update(r_eff_kpc=r_eff, sersic_n=n, bulge_fraction=1.0 - disk_frac, axis_ratio=q,
                 inclination_deg=float("nan"))
    return Body(0.0, 0.0, rng.uniform(0, 180), q, absolute_mag, z, tuple(components))


def _disk(rng, cls: str, absolute_mag: float, z: float, kpc_arcsec: float, truth: dict) -> Body:
    r_eff = _sizes(rng, absolute_mag, early=False)
    h = r_eff / 1.678 / kpc_arcsec  # exponential scale length, arcsec
    edge_on = cls.startswith("edge_on")
    if edge_on:
        inclination = rng.uniform(84, 90)
        thickness = rng.uniform(0.07, 0.11) if cls == "edge_on_without_bulge" else rng.uniform(0.09, 0.14)
    else:
        inclination = math.degrees(math.acos(rng.uniform(math.cos(math.radians(60)), 1.0)))
        thickness = 0.15
    bt = {"barred_spiral": (0.10, 0.40), "unbarred_tight_spiral": (0.15, 0.45), "unbarred_loose_spiral": (0.02, 0.20),
          "edge_on_without_bulge": (0.0, 0.03), "edge_on_with_bulge": (0.25, 0.55), "disturbed": (0.0, 0.15)}[cls]
    bulge_fraction = rng.uniform(*bt)
    bulge_n = rng.uniform(1.5, 4.0)
    bulge_re = h * rng.uniform(0.25, 0.45) * 1.678
    pa = rng.uniform(0, 180)
    components: list[Component] = []
    if bulge_fraction > 0.005:
        # Bulges are spheroids: drawn on the sky with their own mild flattening, not foreshortened with the disk.
        bulge = Sersic(bulge_n, bulge_re, rng.uniform(0.7, 0.95), math.radians(90.0 - pa))
        components.append(Component(bulge, "E", bulge_fraction, projected=False))
    n_arms, pitch, arm_fraction, has_bar, has_ring, n_clumps = 0, float("nan"), 0.0, False, False, 0
    disk_fraction = 1.0 - bulge_fraction
    if cls in ("barred_spiral", "unbarred_tight_spiral", "unbarred_loose_spiral") or (edge_on and rng.uniform() < 0.5):
        if cls == "unbarred_tight_spiral":
            pitch, n_arms = rng.uniform(7, 14), int(rng.choice([2, 2, 2, 3, 4]))
        elif cls == "unbarred_loose_spiral":
            pitch, n_arms = rng.uniform(22, 35), int(rng.choice([2, 2, 3, 4, 5]))
        else:
            pitch, n_arms = rng.uniform(12, 25), 2
        arm_fraction = disk_fraction * rng.uniform(0.4, 0.6)
        r_start = bulge_re * 1.2
        if cls == "barred_spiral":
            has_bar = True
            bar_length = h * rng.uniform(1.0, 1.8)
            bar_fraction = disk_fraction * rng.uniform(0.10, 0.2)
            bar_angle = rng.uniform(0, np.pi)
            components.append(Component(Sersic(0.5, bar_length * 0.55, rng.uniform(0.22, 0.32), bar_angle), "E",
                                        bar_fraction))
            disk_fraction -= bar_fraction
            r_start = bar_length * 0.9
            phase = bar_angle
            if rng.uniform() < 0.4:
                has_ring = True
                ring_fraction = disk_fraction * 0.12
                components.append(Component(Ring(bar_length, 0.12 * bar_length), "Sbc", ring_fraction))
                disk_fraction -= ring_fraction
        else:
            phase = rng.uniform(0, 2 * np.pi)
        arms = SpiralArms(n_arms, pitch, h, r_start, phase, sharpness=rng.uniform(2, 4), ripple=rng.uniform(0.2, 0.5),
                          ripple_phase=rng.uniform(0, 2 * np.pi))
        components.append(Component(arms, "Im" if cls == "unbarred_loose_spiral" else "Scd", arm_fraction))
        disk_fraction -= arm_fraction
    if cls in ("unbarred_loose_spiral", "disturbed") or (not edge_on and rng.uniform() < 0.3):
        n_clumps = int(rng.integers(4, 14))
        clump_fraction = (1.0 - bulge_fraction) * rng.uniform(0.05, 0.12)
        components.append(Component(_clumps(rng, n_clumps, h), "Im", clump_fraction))
        disk_fraction -= clump_fraction
    disk_sed = "Sbc" if bulge_fraction > 0.2 else "Scd"
    if cls == "disturbed":
        components.append(Component(Lopsided(h, rng.uniform(0.3, 0.8), rng.uniform(0, 2 * np.pi)), "Scd",
                                    disk_fraction * 0.85))
        tail = _tidal_tail(rng, 1.5 * h, rng.uniform(0, 2 * np.pi), h * rng.uniform(2, 4), rng.uniform(-1.5, 1.5))
        components.append(Component(tail, "Scd", disk_fraction * 0.15, projected=False))
    else:
        components.append(Component(Sersic(1.0, 1.678 * h), disk_sed, disk_fraction))
    has_dust = edge_on and (cls == "edge_on_with_bulge" or rng.uniform() < 0.35) and rng.uniform() < 0.8
    dust = DustLane(rng.uniform(1.0, 3.0), h * thickness * rng.uniform(0.6, 1.0)) if has_dust else None
    q = _projected_axis_ratio(inclination, thickness)
    truth.update(r_eff_kpc=r_eff, sersic_n=bulge_n, bulge_fraction=bulge_fraction, axis_ratio=q,
                 inclination_deg=inclination, n_arms=n_arms, pitch_deg=pitch, has_bar=has_bar, has_ring=has_ring,
                 has_dust_lane=has_dust, n_clumps=n_clumps)
    return Body(0.0, 0.0, pa, q, absolute_mag, z, tuple(components), dust=dust)


def _merger(rng, absolute_mag: float, z: float, kpc_arcsec: float, truth: dict) -> list[Body]:
    sub: dict = {}
    primary_cls = str(rng.choice(["round_smooth", "unbarred_loose_spiral", "disturbed"]))
    flux_ratio = rng.uniform(0.3, 1.0)
    mag_primary = absolute_mag + 2.5 * math.log10(1 + flux_ratio)
    primary = (_spheroid if primary_cls == "round_smooth" else _disk)(rng, primary_cls, mag_primary, z, kpc_arcsec, sub)
    companion_cls = str(rng.choice(["in_between_round_smooth", "unbarred_tight_spiral", "disturbed"]))
    mag_companion = mag_primary - 2.5 * math.log10(flux_ratio)
    companion = (_spheroid if companion_cls.endswith("smooth") else _disk)(rng, companion_cls, mag_companion, z,
                                                                            kpc_arcsec, {})
    separation = sub["r_eff_kpc"] / kpc_arcsec * rng.uniform(1.0, 2.2)
    angle = rng.uniform(0, 2 * np.pi)
    scale = sub["r_eff_kpc"] / kpc_arcsec
    tails = []
    for sign in (1.0, -1.0):
        tails.append(Component(_tidal_tail(rng, 0.6 * scale, angle + (0 if sign > 0 else np.pi) + rng.normal(0, 0.4),
                                           scale * rng.uniform(2.5, 4.5), sign * rng.uniform(0.8, 1.8)), "Sbc", 0.12,
                               projected=False))
    primary = Body(0.0, 0.0, primary.pa_deg, primary.axis_ratio, primary.absolute_mag_r, z,
                   tuple(Component(c.shape, c.sed, c.light_fraction * 0.88, c.projected) for c in primary.components)
                   + (tails[0],), dust=primary.dust)
    companion = Body(separation * math.cos(angle), separation * math.sin(angle), companion.pa_deg, companion.axis_ratio,
                     companion.absolute_mag_r, z,
                     tuple(Component(c.shape, c.sed, c.light_fraction * 0.88, c.projected)
                           for c in companion.components) + (tails[1],))
    truth.update(sub, companion_flux_ratio=flux_ratio, companion_separation_kpc=separation * kpc_arcsec, is_merger=True)
    return [primary, companion]


def build_object(seed: int, object_id: str, class_probabilities: list[float], star_fraction: float,
                 artifact_fraction: float, z_min: float, z_max: float, photometry: Photometry,
                 force_class: str | None = None, force_z: float | None = None) -> MockObject:
    """Draw one object's truth and bodies from (seed, object_id); ``force_*`` pin class/redshift (gallery)."""
    rng = object_rng(seed, object_id)
    u = rng.uniform()
    object_type = "galaxy" if force_class else ("star" if u < star_fraction else
                                                 "artifact" if u < star_fraction + artifact_fraction else "galaxy")
    truth: dict = {"object_type": object_type, "galaxy10_class": -1, "galaxy10_name": "", "redshift": float("nan"),
                   "absolute_mag_r": float("nan"), "r_eff_kpc": float("nan"), "r_eff_arcsec": float("nan"),
                   "sersic_n": float("nan"), "bulge_fraction": float("nan"), "axis_ratio": float("nan"),
                   "inclination_deg": float("nan"), "n_arms": 0, "pitch_deg": float("nan"), "has_bar": False,
                   "has_ring": False, "has_dust_lane": False, "n_clumps": 0, "is_merger": False,
                   "companion_flux_ratio": float("nan"), "companion_separation_kpc": float("nan"),
                   "star_mag_r": float("nan")}
    if object_type == "star":
        mag = rng.uniform(15.5, 21.5)
        temp_index = int(rng.integers(len(STAR_TEMPERATURES_K)))
        truth.update(star_mag_r=mag)
        star = Body(0.0, 0.0, 0.0, 1.0, float("nan"), 0.0, (), star_mag_r=mag, star_temperature_index=temp_index)
        return MockObject(object_id, object_type, [star], truth)
    if object_type == "artifact":
        kind = str(rng.choice(ARTIFACT_KINDS))
        truth.update(artifact_kind=kind)
        bodies = []
        if kind == "saturated_star":
            mag = rng.uniform(9.0, 12.0)
            truth.update(star_mag_r=mag)
            bodies = [Body(rng.uniform(-3, 3), rng.uniform(-3, 3), 0.0, 1.0, float("nan"), 0.0, (), star_mag_r=mag,
                           star_temperature_index=int(rng.integers(len(STAR_TEMPERATURES_K))))]
        return MockObject(object_id, object_type, bodies, truth, artifact_kind=kind)
    class_index = GALAXY10_CLASSES.index(force_class) if force_class \
        else int(rng.choice(len(GALAXY10_CLASSES), p=class_probabilities))
    cls = GALAXY10_CLASSES[class_index]
    z = float(force_z) if force_z is not None else redshift_draw(rng, z_min, z_max)
    early = cls.endswith("smooth")
    absolute_mag = float(rng.normal(-21.4 if early else -21.0, 0.7))
    kpc_arcsec = photometry.kpc_per_arcsec(z)
    truth.update(galaxy10_class=class_index, galaxy10_name=cls, redshift=z, absolute_mag_r=absolute_mag)
    if cls == "merging":
        bodies = _merger(rng, absolute_mag, z, kpc_arcsec, truth)
    elif early:
        bodies = [_spheroid(rng, cls, absolute_mag, z, kpc_arcsec, truth)]
    else:
        bodies = [_disk(rng, cls, absolute_mag, z, kpc_arcsec, truth)]
    truth["r_eff_arcsec"] = truth["r_eff_kpc"] / kpc_arcsec
    truth["pa_deg"] = bodies[0].pa_deg
    return MockObject(object_id, object_type, bodies, truth)
