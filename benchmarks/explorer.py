"""Galaxy explorer at scale: build a 50,000-point synthetic explorer and time it in headless Chromium.

Builds (galssl.explorer.build_explorer, default settings: 48-px tiles, 64x64 tiles per PNG sheet, 8 neighbours) from a
synthetic survey (small 3-band cutouts, clustered 32-d embeddings, a clustered 2-d map, ~20 label columns), opens it
from file:// in Debian's headless Chromium (tests/explorer_browser.py) and measures, with the page's own event
handlers driven once per animation frame:
- load: page start to the first drawn frame (data decoding, spatial grid, first draw), and until every sprite sheet
  is decoded in the background;
- pan (a mouse drag) and zoom (wheel events about the cursor): JS time of each frame's redraw and the interval between
  frames (16.7 ms = 60 frames/s);
- hover: time of the mousemove handler (hit test in the spatial grid + tooltip with thumbnail) and frame intervals,
  right after load (``hover_cold``: sprite sheets still loading) and once every sheet is decoded (``hover``).
Prints and saves JSON (default benchmarks/results/explorer.json).
Usage: python benchmarks/explorer.py [--points 50000] [--frames 120] [--out benchmarks/results/explorer.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from explorer_browser import CHROMIUM, chromium, open_explorer

BANDS = ["g", "r", "i"]
SIZE = 16


def synthetic_survey(root: Path, n: int, seed: int = 0):
    """Shards, embeddings, UMAP table, catalogue and labels of n objects in 10 classes."""
    from galssl.embeddings import write_embeddings
    from galssl.explorer.build import ExplorerInputs
    from galssl.shards import ShardRow, shard_schema, write_shard

    rng = np.random.default_rng(seed)
    ids = [f"bench{index:06d}" for index in range(n)]
    kinds = rng.integers(0, 10, n)
    rows, cols = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    shards, schema, shard_size = [], shard_schema(BANDS, SIZE, 0.4), 5000
    for start in range(0, n, shard_size):
        part = []
        for i in range(start, min(n, start + shard_size)):
            blob = np.exp(-0.5 * ((rows / (1 + kinds[i] % 4)) ** 2 + (cols / 2.0) ** 2))
            colour = np.array([0.6 + 0.1 * kinds[i], 1.0, 1.4 - 0.08 * kinds[i]])[:, None, None]
            image = (colour * 3 * blob + rng.normal(0, 0.05, (3, SIZE, SIZE))).astype(np.float32)
            part.append(ShardRow(ids[i], 180 + i * 1e-4, 2.0, "sdss", "train", image, np.zeros(3, np.float32),
                                 np.ones(3, np.float32), np.zeros(3, np.float32), np.full(3, 0.05, np.float32)))
        path = root / f"shards/shard-{start // shard_size:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_shard(path, part, schema)
        shards.append(str(path))
    centres = rng.normal(size=(10, 32))
    write_embeddings(root / "embeddings.parquet", ids, (centres[kinds] + 0.5 * rng.normal(size=(n, 32)))
                     .astype(np.float32), "simclr")
    map_centres = rng.uniform(-10, 10, (10, 2))
    xy = map_centres[kinds] + rng.normal(size=(n, 2)) * rng.uniform(0.5, 1.5, (10, 1))[kinds]
    pd.DataFrame({"object_id": ids, "split": "train", "x": xy[:, 0], "y": xy[:, 1]}).to_parquet(root / "umap.parquet")
    pd.DataFrame({"object_id": ids, "ra": 180 + np.arange(n) * 1e-4, "dec": 2.0, "split": "train"}).to_parquet(
        root / "catalog.parquet")
    labels = {"object_id": ids, "galaxy10_class": kinds,
              "galaxy10_name": np.array([f"class_{k}" for k in range(10)])[kinds],
              "redshift": rng.uniform(0.01, 0.4, n), "has_bar": kinds == 5}
    for question in ("smooth_or_featured", "bar", "has_spiral_arms", "bulge_prominence", "anything_odd", "how_rounded"):
        fraction = rng.beta(2, 2, n)
        labels[f"{question}__yes_fraction"], labels[f"{question}__no_fraction"] = fraction, 1 - fraction
        labels[f"{question}__total"] = rng.integers(10, 60, n)
    pd.DataFrame(labels).to_parquet(root / "labels.parquet")
    return ExplorerInputs(umap=root / "umap.parquet", embeddings=root / "embeddings.parquet",
                          catalog=root / "catalog.parquet", labels=root / "labels.parquet", shards=shards, bands=BANDS,
                          survey="sdss", instrument="sdss", embedding="simclr")


# One animation-frame-paced session of the page's own handlers; resolves with per-frame timings (ms).
FRAMES_SCRIPT = """
const [mode, frames, done] = arguments;
const api = window.galsslExplorer, canvas = document.getElementById('map'), box = canvas.getBoundingClientRect();
const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
const intervals = [], handler = [], before = api.stats().draws;
let seed = 12345;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const mouse = (type, x, y, target) => (target || canvas).dispatchEvent(new MouseEvent(type, {clientX: x, clientY: y,
  bubbles: true, cancelable: true, button: 0, buttons: type === 'mouseup' ? 0 : 1}));
api.reset();
if (mode === 'pan') mouse('mousedown', cx, cy);
let last = null, frame = 0;
function tick(now) {
  if (last !== null) intervals.push(now - last);
  last = now;
  const started = performance.now();
  if (mode === 'pan') mouse('mousemove', cx + 200 * Math.sin(frame / 15), cy + 120 * Math.cos(frame / 20), window);
  if (mode === 'zoom') canvas.dispatchEvent(new WheelEvent('wheel', {clientX: cx + 100 * Math.sin(frame / 10),
    clientY: cy, deltaY: frame < frames / 2 ? -40 : 40, bubbles: true, cancelable: true}));
  if (mode === 'hover') {
    const x = box.left + 40 + random() * (box.width - 80), y = box.top + 40 + random() * (box.height - 80);
    canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
  }
  handler.push(performance.now() - started);
  if (++frame < frames) requestAnimationFrame(tick);
  else {
    if (mode === 'pan') mouse('mouseup', cx, cy, window);
    requestAnimationFrame(() => {
      const stats = api.stats();
      done({intervals: intervals, handler: handler, draw: stats.drawMs.slice(-(stats.draws - before)),
            draws: stats.draws - before});
    });
  }
}
requestAnimationFrame(tick);
"""


def summary(values: list[float]) -> dict:
    array = np.asarray(values, dtype=float)
    if not len(array):
        return {"n": 0}
    return {"n": int(len(array)), "median_ms": round(float(np.median(array)), 2),
            "p95_ms": round(float(np.percentile(array, 95)), 2), "max_ms": round(float(array.max()), 2)}


def measure(folder: Path, frames: int) -> dict:
    results = {}
    with chromium(1600, 1000) as driver:
        started = time.perf_counter()
        open_explorer(driver, folder)
        results["open_seconds"] = round(time.perf_counter() - started, 2)
        results["ready_ms"] = round(driver.execute_script("return window.galsslExplorer.stats().readyMs;"), 1)
        results["points"] = driver.execute_script("return window.galsslExplorer.pointCount();")
        # cold hover: right after the first frame, while the sprite sheets are still being read and decoded
        for name, mode, warm_up in (("hover_cold", "hover", 0), ("pan", "pan", 20), ("zoom", "zoom", 20),
                                    ("hover", "hover", 20)):
            if name == "hover":  # warm: every sheet decoded in the background first
                wait = time.perf_counter()
                while not driver.execute_script("return window.galsslExplorer.stats().sheetsReadyMs;"):
                    assert time.perf_counter() - wait < 300, "the sprite sheets did not load"
                    time.sleep(0.2)
                results["sheets_ready_ms"] = round(driver.execute_script(
                    "return window.galsslExplorer.stats().sheetsReadyMs;"), 1)
            if warm_up:
                driver.execute_async_script(FRAMES_SCRIPT, mode, warm_up)  # JIT warm-up
            raw = driver.execute_async_script(FRAMES_SCRIPT, mode, frames)
            results[name] = {"frame_interval": summary(raw["intervals"]), "redraw": summary(raw["draw"]),
                             "handler": summary(raw["handler"]), "redraws": raw["draws"]}
            print(name, json.dumps(results[name]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/explorer.json"))
    args = parser.parse_args()
    from galssl.explorer.build import build_explorer
    from galssl.explorer.settings import ExplorerSettings

    with tempfile.TemporaryDirectory(prefix="galssl-explorer-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        inputs = synthetic_survey(root, args.points)
        synthetic_seconds = time.perf_counter() - started
        started = time.perf_counter()
        built = build_explorer(inputs, ExplorerSettings(), seed=0, out_dir=root / "explorer")
        build_seconds = time.perf_counter() - started
        sizes = {"data_js_mb": round((root / "explorer/data.js").stat().st_size / 1e6, 1),
                 "sprites_mb": round(sum(p.stat().st_size for p in (root / "explorer/sprites").iterdir()) / 1e6, 1)}
        print(f"built {built['points']} points in {build_seconds:.1f} s ({sizes})", flush=True)
        browser = measure(root / "explorer", args.frames)
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True).stdout.strip()
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "chromium": version,
                           "window": [1600, 1000], "headless": True, "gpu": False},
               "points": built["points"], "sprite_sheets": built["sheets"], "synthetic_input_seconds":
               round(synthetic_seconds, 1), "build_seconds": round(build_seconds, 1), **sizes, **browser}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
