"""Mock-sky rendering speed: objects per second per core for 5-band cutouts of 64x64 native pixels.

Usage: python benchmarks/mocksky.py [--n 300] [--out benchmarks/results/mocksky.json]
Runs single-threaded (one core) after a warm-up; prints and saves JSON.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import time
from pathlib import Path

from galssl.mocksky.settings import MockSettings
from galssl.mocksky.sky import MockSky


def bench(instrument: str, bands: list[str], size_px: int, n: int, sky: MockSky) -> dict:
    scale = min(sky.photometry(instrument).instrument.band(b).pixel_scale_arcsec for b in bands)
    size_arcsec = size_px * scale
    ids = sky.object_ids[:n]
    sky.object_cutouts(ids[0], instrument, bands, size_arcsec)  # warm-up: tables, imports
    start = time.perf_counter()
    for object_id in ids:
        sky.object_cutouts(object_id, instrument, bands, size_arcsec)
    elapsed = time.perf_counter() - start
    return {"instrument": instrument, "bands": bands, "size_px": size_px, "objects": n,
            "seconds": round(elapsed, 3), "objects_per_s_per_core": round(n / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/mocksky.json")
    args = parser.parse_args()
    sky = MockSky(MockSettings(n_objects=args.n), seed=42)
    results = {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "threads": 1},
        "runs": [
            bench("sdss", ["u", "g", "r", "i", "z"], 64, args.n, sky),
            bench("sdss", ["u", "g", "r", "i", "z"], 91, args.n, sky),
            bench("legacy", ["g", "r", "i", "z"], 96, args.n // 2, sky),
        ],
        "goal_objects_per_s_per_core": 50,
    }
    print(json.dumps(results, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
