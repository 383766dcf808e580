"""Ingest one shard: fetch each object's native cutouts, reproject to the survey's target grid, write Parquet.

A shard is one Snakemake job (scatter); failed objects — and objects with a band whose share of no-data pixels is
above ``ingest.max_mask_fraction`` — go to a per-shard failures table instead of failing the run;
``write_manifest`` gathers shard statistics into the dataset manifest (JSON) and one ``failures.parquet``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from galssl.display import flux_only_off, is_display_unit
from galssl.errors import ConfigError, DataError, GalsslError
from galssl.io import write_parquet_atomic, write_text_atomic
from galssl.providers.base import FetchError, Provider
from galssl.reproject import TargetGrid, to_target
from galssl.settings import fill_defaults
from galssl.shards import (
    ShardRow,
    assign_shards,
    image_shape,
    read_shard_schema,
    read_shard_table,
    row_hashes,
    shard_schema,
    write_shard,
)

FAILURE_COLUMNS = {"object_id": "string", "survey": "string", "reason": "string", "attempts": "int64"}
DEFAULT_MAX_MASK_FRACTION = 0.2
"""``ingest.max_mask_fraction``: an object with a band whose share of no-data target pixels is above it fails."""


@dataclass(frozen=True)
class SurveySpec:
    """The target side of one ``surveys.<name>`` config section."""

    name: str
    provider: str
    bands: list[str]
    pixel_scale_arcsec: float
    cutout_size: int
    reproject_method: str

    @classmethod
    def from_section(cls, name: str, section: dict) -> SurveySpec:
        """The target grid of ``surveys.<name>``; missing keys take the schema defaults (``reproject``: the
        ``ingest.reproject`` default)."""
        section = fill_defaults(section, "surveys.*")
        reproject = section.get("reproject") or fill_defaults({}, "ingest")["reproject"]
        return cls(name, section["provider"], list(section["bands"]), float(section["pixel_scale_arcsec"]),
                   int(section["cutout_size"]), str(reproject))

    @property
    def grid(self) -> TargetGrid:
        return TargetGrid(self.pixel_scale_arcsec, self.cutout_size)


def no_data_failure(bands: list[str], mask_fraction: np.ndarray, unit: str, max_mask_fraction: float) -> str | None:
    """The failure reason of an object with a band above ``max_mask_fraction`` no-data pixels (or with a band
    without any data at all, whatever the threshold), else None."""
    over = [(band, float(f)) for band, f in zip(bands, mask_fraction) if f > max_mask_fraction or f >= 1.0]
    if not over:
        return None
    limit = f"{max_mask_fraction:.0%}"
    by_share: dict[str, list[str]] = {}  # bands with the same share named together: "bands g, r, z: 100%"
    for band, f in over:
        by_share.setdefault(_percent(f, limit), []).append(band)
    shares = " and ".join(f"band{'s' if len(names) > 1 else ''} {', '.join(names)}: {share}"
                          for share, names in by_share.items())
    kinds = "NaN or outside the image" if is_display_unit(unit) else "zero, NaN or outside the image"
    reason = f"{shares} of the cutout has no data ({kinds})"
    if all(f > max_mask_fraction for _, f in over):
        return f"{reason}, above ingest.max_mask_fraction {max_mask_fraction:g}"
    return f"{reason}: nothing of the object is there"


def _percent(fraction: float, limit: str) -> str:
    text = f"{fraction:.0%}"
    return f"{fraction:.1%}" if text == limit and fraction < 1.0 else text  # never "20%, above ... 0.2"


def _ingest_one(provider: Provider, spec: SurveySpec, row: pd.Series, max_mask_fraction: float) -> ShardRow | dict:
    """Fetch + reproject one object; a failure (or too little data in a band) becomes a failures-table row."""
    try:
        images = provider.fetch(row.object_id, float(row.ra), float(row.dec), spec.grid.fetch_size_arcsec)
        result = to_target(images, spec.grid, float(row.ra), float(row.dec), spec.reproject_method)
    except FetchError as error:
        return {"object_id": row.object_id, "survey": spec.name, "reason": error.reason, "attempts": error.attempts}
    except (GalsslError, ValueError, OSError) as error:  # corrupt or unusable images: record, never crash the shard
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        return {"object_id": row.object_id, "survey": spec.name, "reason": reason, "attempts": 1}
    reason = no_data_failure(spec.bands, result.mask_fraction, result.unit, max_mask_fraction)
    if reason is not None:
        return {"object_id": row.object_id, "survey": spec.name, "reason": reason, "attempts": 1}
    return ShardRow(row.object_id, float(row.ra), float(row.dec), spec.name, row.split, result.image,
                    result.mask_fraction, result.psf_fwhm_arcsec, result.sky_median, result.sky_mad, result.unit)


def ingest_shard(catalog: pd.DataFrame, spec: SurveySpec, provider: Provider, shard_index: int, shard_size: int,
                 seed: int, shard_path: str, failures_path: str, threads: int = 1,
                 max_mask_fraction: float = DEFAULT_MAX_MASK_FRACTION) -> tuple[int, int]:
    """Ingest the objects of one shard; write the shard and its failures atomically. Returns (ok, failed)."""
    if not 0.0 <= max_mask_fraction <= 1.0:
        raise ConfigError(f"ingest.max_mask_fraction must be in [0, 1] (got {max_mask_fraction})")
    assignment = assign_shards(catalog["object_id"].tolist(), shard_size, seed)
    members = catalog[catalog["object_id"].map(assignment) == shard_index]
    if members.empty:
        raise ConfigError(f"shard {shard_index} is empty: the catalogue has {len(catalog)} objects in shards of "
                          f"{shard_size}")
    rows: list[ShardRow] = []
    failures: list[dict] = []
    progress = tqdm(total=len(members), desc=f"{spec.name} shard {shard_index}", unit="obj", file=sys.stderr,
                    mininterval=2.0, disable=None)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for outcome in pool.map(lambda item: _ingest_one(provider, spec, item[1], max_mask_fraction),
                                members.iterrows()):
            (rows if isinstance(outcome, ShardRow) else failures).append(outcome)
            progress.update()
    progress.close()
    units = sorted({row.unit for row in rows})
    if len(units) > 1:
        raise ConfigError(f"surveys.{spec.name}: images of one survey come in several units ({', '.join(units)})")
    unit = units[0] if units else "nanomaggy"
    write_shard(shard_path, rows, shard_schema(spec.bands, spec.cutout_size, spec.pixel_scale_arcsec, unit))
    failure_table = pd.DataFrame(failures, columns=list(FAILURE_COLUMNS)).astype(FAILURE_COLUMNS)
    write_parquet_atomic(failure_table.sort_values("object_id", ignore_index=True), failures_path)
    return len(rows), len(failures)


def config_hash(*sections: dict) -> str:
    """SHA-256 of the canonical JSON of the config sections that define a dataset."""
    return hashlib.sha256(json.dumps(sections, sort_keys=True, default=str).encode()).hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    for package in ("galssl", "numpy", "astropy", "reproject", "pyarrow", "GalSim", "astroquery", "pandas"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def write_manifest(spec: SurveySpec, shard_paths: list[str], failure_paths: list[str], manifest_path: str,
                   failures_out: str, dataset_hash: str,
                   max_mask_fraction: float = DEFAULT_MAX_MASK_FRACTION) -> dict:
    """Gather per-shard columns (never the images) into the manifest JSON and one failures table.

    Every shard and failures table is read and checked before anything is written, so a damaged one is a one-line
    DataError naming it and the previous manifest and failures table stay as they were.
    """
    columns = ["split", "mask_fraction", "psf_fwhm_arcsec", "sky_median", "sky_mad"]
    schemas = [read_shard_schema(p) for p in shard_paths]
    for path, schema in zip(shard_paths, schemas):
        image_shape(schema, path)
    tables = [read_shard_table(p, columns) for p in shard_paths]
    for path, schema, table in zip(shard_paths, schemas, tables):
        row_hashes(schema, table.num_rows, path)  # rows added or dropped since ingest wrote the shard
    stats = pa.concat_tables(tables).to_pandas()
    failures = pd.concat([_read_failures(p) for p in failure_paths], ignore_index=True) if failure_paths else \
        pd.DataFrame(columns=list(FAILURE_COLUMNS))
    failures = failures.astype(FAILURE_COLUMNS).sort_values("object_id", ignore_index=True)

    def per_band(column: str) -> np.ndarray:
        if not len(stats):
            return np.full((0, len(spec.bands)), np.nan)
        return np.stack(stats[column].map(np.asarray).to_list())

    medians, mads, psfs = per_band("sky_median"), per_band("sky_mad"), per_band("psf_fwhm_arcsec")
    masked = per_band("mask_fraction")
    manifest = {
        "survey": spec.name, "provider": spec.provider, "bands": spec.bands,
        "image_shape": [len(spec.bands), spec.cutout_size, spec.cutout_size], "image_dtype": "float32 (little-endian)",
        "image_unit": schemas[0].metadata[b"galssl.image_unit"].decode(),
        "pixel_scale_arcsec": spec.pixel_scale_arcsec,
        "reproject_method": spec.reproject_method,
        "shards": [os.path.basename(p) for p in shard_paths],
        "counts": {"objects": int(len(stats)), "failed": int(len(failures)),
                   "by_split": {k: int(v) for k, v in sorted(stats["split"].value_counts().items())}},
        "band_statistics": {
            band: {"sky_median": float(np.nanmedian(medians[:, i])) if len(stats) else None,
                   "mask_fraction_mean": float(masked[:, i].mean()) if len(stats) else None,
                   "mask_fraction_max": float(masked[:, i].max()) if len(stats) else None,
                   "sky_mad": float(np.nanmedian(mads[:, i])) if len(stats) else None,
                   "psf_fwhm_arcsec_median": (float(np.nanmedian(psfs[:, i]))
                                              if len(stats) and np.isfinite(psfs[:, i]).any() else None)}
            for i, band in enumerate(spec.bands)},
        "mask_fraction_mean": float(masked.mean()) if len(stats) else None,
        "max_mask_fraction": max_mask_fraction,
        "config_hash": dataset_hash, "versions": _versions(),
    }
    if flux_only_off(manifest["image_unit"]):  # display images: which augmentations are off and why (augment.build)
        manifest["augmentations_off"] = flux_only_off(manifest["image_unit"])
    write_parquet_atomic(failures, failures_out)
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _read_failures(path: str) -> pd.DataFrame:
    """One shard's failures table; a damaged one is a DataError naming it (it is rebuilt with its shard)."""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"failures table {path}: file not found; run the ingest step (snakemake)") from None
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"failures table {path}: cannot read it as Parquet ({type(error).__name__}); the file is "
                        f"truncated or corrupt: delete it and rerun snakemake (it rebuilds it with its shard), or "
                        f"run `snakemake --forcerun {path}`") from None
