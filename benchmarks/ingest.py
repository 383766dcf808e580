"""Ingest throughput, shard read speed, shard formats and memory, all in one run on one core.

Prints and saves JSON (default benchmarks/results/ingest.json):
- reprojection alone (objects/s/core) vs the whole ingest from a local cache of native FITS cutouts to shards,
  and their ratio (goal >= 0.6);
- shard read throughput (images/s) through galssl.shards.read_images;
- image storage formats: float32/float16 x binary blob/FixedSizeList — file size and read speed;
- peak RSS of a whole ingest of N and 4N objects (each in a fresh process; goal RSS(4N) <= 1.2 RSS(N)).
Usage: python benchmarks/ingest.py [--n 200] [--out ...]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from galssl.ingest import SurveySpec, ingest_shard
from galssl.mocksky.fits import write_cutouts
from galssl.mocksky.settings import MockSettings
from galssl.mocksky.sky import MockSky
from galssl.providers import ProviderContext, create_provider
from galssl.reproject import to_target
from galssl.shards import read_images

BANDS = ["u", "g", "r", "i", "z"]
SECTION = {"bands": BANDS, "pixel_scale_arcsec": 0.396, "cutout_size": 64}


def make_cache(n: int, folder: Path):
    """Render n mock objects' native cutouts to FITS files (the 'local cache') and return the catalogue."""
    sky = MockSky(MockSettings(n_objects=n), seed=42)
    spec = SurveySpec.from_section("sdss", {"provider": "files", **SECTION})
    folder.mkdir(parents=True, exist_ok=True)
    for object_id in sky.object_ids:
        if not (folder / f"{object_id}.fits").exists():
            cutouts = sky.object_cutouts(object_id, "sdss", BANDS, spec.grid.fetch_size_arcsec)
            write_cutouts(folder / f"{object_id}.fits", cutouts, "sdss", object_id, 42)
    catalog = sky.catalog()
    catalog["split"] = "train"
    return catalog, spec


def files_provider(folder: Path):
    return create_provider({"provider": "files", "path": str(folder), **SECTION},
                           ProviderContext("sdss", 42, str(folder)))


def whole_ingest(catalog, spec, folder: Path, out: Path, shard_size: int) -> float:
    provider = files_provider(folder)
    n_shards = -(-len(catalog) // shard_size)
    start = time.perf_counter()
    for index in range(n_shards):
        ingest_shard(catalog, spec, provider, index, shard_size, 42, str(out / f"shard-{index:05d}.parquet"),
                     str(out / f"failures-{index:05d}.parquet"), threads=1)
    return time.perf_counter() - start


def reprojection_alone(catalog, spec, folder: Path) -> float:
    provider = files_provider(folder)
    loaded = [(provider.fetch(r.object_id, r.ra, r.dec, spec.grid.fetch_size_arcsec), r.ra, r.dec)
              for r in catalog.itertuples()]
    start = time.perf_counter()
    for images, ra, dec in loaded:
        to_target(images, spec.grid, ra, dec)
    return time.perf_counter() - start


def formats(images: np.ndarray, folder: Path, repeats: int = 5) -> dict:
    """Size and read speed of the image column stored four ways."""
    n, shape = len(images), images.shape[1:]
    flat = int(np.prod(shape))
    out = {}
    for dtype in ("float32", "float16"):
        data = images.astype(dtype)
        for layout in ("blob", "fixed_size_list"):
            if layout == "blob":
                column = pa.array([row.tobytes() for row in data], type=pa.binary())
            else:
                column = pa.FixedSizeListArray.from_arrays(pa.array(data.reshape(-1)), flat)
            path = folder / f"{dtype}_{layout}.parquet"
            pq.write_table(pa.table({"image": column}), path, compression="zstd")
            start = time.perf_counter()
            for _ in range(repeats):
                table = pq.read_table(path)
                if layout == "blob":
                    decoded = np.frombuffer(b"".join(table["image"].to_pylist()), dtype=dtype).reshape(n, *shape)
                else:
                    decoded = table["image"].combine_chunks().flatten().to_numpy().reshape(n, *shape)
            elapsed = (time.perf_counter() - start) / repeats
            error = float(np.max(np.abs(decoded.astype(np.float64) - images) / (np.abs(images) + 0.01)))
            out[f"{dtype}_{layout}"] = {"bytes_per_image": round(path.stat().st_size / n),
                                        "images_per_s": round(n / elapsed), "max_relative_error": error}
    return out


def peak_rss_child(n: int, cache: Path, work: Path, shard_size: int) -> float:
    """Peak RSS (MiB) of a fresh process ingesting n objects from the cache."""
    script = f"import resource, sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\nimport ingest as b\n" \
             f"cat, spec = b.make_cache({n}, __import__('pathlib').Path({str(cache)!r}))\n" \
             f"import pathlib; out = pathlib.Path({str(work)!r}); out.mkdir(parents=True, exist_ok=True)\n" \
             f"b.whole_ingest(cat, spec, pathlib.Path({str(cache)!r}), out, {shard_size})\n" \
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--shard-size", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results/ingest.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        catalog, spec = make_cache(4 * args.n, cache)
        small = catalog.iloc[: args.n].reset_index(drop=True)
        reproject_s = reprojection_alone(small, spec, cache)
        ingest_s = whole_ingest(small, spec, cache, tmp / "shards", args.shard_size)
        shard_files = sorted((tmp / "shards").glob("shard-*.parquet"))
        start = time.perf_counter()
        images = np.concatenate([read_images(p)[1] for p in shard_files])
        read_s = time.perf_counter() - start
        rss_n = peak_rss_child(args.n, cache, tmp / "rss_n", args.shard_size)
        rss_4n = peak_rss_child(4 * args.n, cache, tmp / "rss_4n", args.shard_size)
        result = {
            "objects": args.n, "bands": BANDS, "cutout_size": 64, "threads": 1,
            "reprojection_objects_per_s_per_core": round(args.n / reproject_s, 1),
            "ingest_from_cache_objects_per_s_per_core": round(args.n / ingest_s, 1),
            "ratio_ingest_over_reprojection": round(reproject_s / ingest_s, 3),
            "goal_ratio": 0.6,
            "shard_read_images_per_s": round(len(images) / read_s),
            "formats": formats(images.astype(np.float64), tmp),
            "peak_rss_mib": {"N": round(rss_n, 1), "4N": round(rss_4n, 1), "ratio_4N_over_N": round(rss_4n / rss_n, 3)},
            "goal_rss_ratio": 1.2,
        }
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
