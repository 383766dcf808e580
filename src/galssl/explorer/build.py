"""Build the static galaxy explorer: ``index.html`` with its script, style, data (``data.js``) and thumbnail sprite
sheets in one folder that opens from ``file://`` with no server and no network.

The data is a script (``window.GALSSL = {...}``), not a JSON file, because browsers refuse ``fetch()`` of
``file://`` URLs. The folder is built next to its destination and renamed into place, so a reader never sees half
an explorer.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from galssl.embeddings import read_embeddings
from galssl.errors import DataError
from galssl.explorer.neighbours import nearest_neighbours
from galssl.explorer.settings import ExplorerSettings
from galssl.explorer.sprites import SpriteSheets, write_sprite_sheets
from galssl.explorer.table import ExplorerPoints, b64, default_colour_by, default_tooltip, encode_points, load_points
from galssl.search_index import SearchSettings

ASSETS = ("index.html", "explorer.js", "explorer.css")
"""Files of the page itself, copied from the package (galssl/explorer/assets/) into every explorer."""

DATA_VERSION = 1
"""Layout version of ``window.GALSSL`` (explorer.js checks it)."""


@dataclass(frozen=True)
class ExplorerInputs:
    """The files one explorer is built from (all written by earlier stages)."""

    umap: str | os.PathLike
    embeddings: str | os.PathLike
    catalog: str | os.PathLike
    labels: str | os.PathLike | None
    shards: Sequence[str | os.PathLike]
    bands: Sequence[str]
    survey: str
    instrument: str
    embedding: str


def palettes() -> dict[str, list[str]]:
    """Hex colours the page draws with: matplotlib's tab10 + tab20 for categories, viridis (256 steps) for numbers."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    categorical = [to_hex(colour) for colour in colormaps["tab10"].colors]
    categorical += [to_hex(colour) for colour in colormaps["tab20"].colors[1::2]]
    ramp = [to_hex(colour) for colour in colormaps["viridis"](np.linspace(0.0, 1.0, 256))]
    return {"categorical": categorical, "ramp": ramp}


def embedding_vectors(path: str | os.PathLike, object_ids: Sequence[str]) -> np.ndarray:
    """(len(object_ids), D) float32 embedding rows of the given objects, in that order."""
    ids, vectors = read_embeddings(path)
    row = {str(object_id): index for index, object_id in enumerate(ids)}
    missing = [object_id for object_id in object_ids if object_id not in row]
    if missing:
        raise DataError(f"{path}: {len(missing)} objects of the UMAP have no embedding (e.g. {missing[:3]}); are the "
                        "UMAP and the embeddings of the same embedding?")
    return np.ascontiguousarray(vectors[[row[object_id] for object_id in object_ids]], dtype=np.float32)


def page_data(points: ExplorerPoints, settings: ExplorerSettings, inputs: ExplorerInputs, neighbours: np.ndarray,
              similarity: np.ndarray, tiles: SpriteSheets, title: str, seed: int) -> dict:
    """The ``window.GALSSL`` object: metadata, per-point arrays, neighbours, sprite layout and palettes."""
    data = {"version": DATA_VERSION, "title": title, "survey": inputs.survey, "embedding": inputs.embedding,
            "seed": int(seed), "n_points": len(points.object_ids), "n_objects": points.n_objects,
            "colour_by": default_colour_by(points, settings), "tooltip": default_tooltip(points, settings),
            "neighbours": {"k": int(neighbours.shape[1]), "rows": b64(neighbours, "<i4"),
                           "similarity": b64(similarity, "<f4")},
            "sprites": {"tile_px": tiles.tile_px, "tiles_per_side": tiles.tiles_per_side, "sheets": tiles.sheets,
                        "tile": b64(tiles.tile, "<i4")},
            "palettes": palettes()}
    data.update(encode_points(points))
    return data


def _swap_into_place(built: Path, out: Path) -> None:
    """Rename the finished folder onto ``out``; an earlier explorer there is moved aside first, then deleted."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(built, out)
    if old is not None:
        shutil.rmtree(old)


def build_explorer(inputs: ExplorerInputs, settings: ExplorerSettings, seed: int, out_dir: str | os.PathLike,
                   title: str = "", search: SearchSettings | None = None) -> dict:
    """Write the explorer folder ``out_dir`` (index.html, explorer.js, explorer.css, data.js, sprites/); returns a
    summary (points, objects, neighbours, sheets)."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    points = load_points(inputs.umap, inputs.catalog, inputs.labels, settings, seed)
    vectors = embedding_vectors(inputs.embeddings, points.object_ids)
    neighbours, similarity = nearest_neighbours(vectors, settings.k_neighbours, seed, search)
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.build.", dir=out.parent))
    try:
        tiles = write_sprite_sheets(inputs.shards, points.object_ids, inputs.bands, inputs.instrument,
                                    settings.thumbnail_px, settings.tiles_per_side, built / "sprites",
                                    settings.thumbnail_format)
        title = title or f"{inputs.survey} / {inputs.embedding}"
        data = page_data(points, settings, inputs, neighbours, similarity, tiles, title, seed)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        (built / "data.js").write_text(f"window.GALSSL = {text};\n", encoding="utf-8")
        assets = resources.files("galssl.explorer") / "assets"
        for name in ASSETS:
            (built / name).write_bytes((assets / name).read_bytes())
        os.chmod(built, 0o755)  # mkdtemp makes it private; the explorer is meant to be shared
        _swap_into_place(built, out)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return {"points": len(points.object_ids), "objects": points.n_objects, "k": int(neighbours.shape[1]),
            "sheets": len(tiles.sheets), "colour_by": data["colour_by"]}
