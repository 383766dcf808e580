"""Thumbnail sprite sheets: every shown galaxy's colour composite as one square tile of a few large images, so the page
loads a handful of images instead of one per galaxy.

Tile t lies on sheet ``t // tiles_per_side**2``, at column ``t % tiles_per_side`` and row
``(t % tiles_per_side**2) // tiles_per_side`` of that sheet; tiles are numbered in the order the objects come out of
the shards, so each sheet is written as soon as it is full and memory stays flat in the number of galaxies.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from galssl.composite import image_rgb
from galssl.display import shards_are_display
from galssl.errors import DataError
from galssl.shards import decode_image, image_shape, read_shard_schema, row_hashes


@dataclass(frozen=True)
class SpriteSheets:
    """Where each object's tile is (``tile[i]`` for object i) and the sheets written: file name, width, height."""

    tile: np.ndarray
    sheets: list[dict]
    tile_px: int
    tiles_per_side: int


def thumbnail(image: np.ndarray, bands: Sequence[str], survey: str, tile_px: int, display: bool = False) -> np.ndarray:
    """uint8 (tile_px, tile_px, 3): the Lupton colour composite of one (bands, H, W) cutout (``display``: the display
    image as it is), resampled (Lanczos) to the tile size when the cutout is another size."""
    rgb = image_rgb(image, list(bands), survey, display)
    if rgb.shape[0] == tile_px and rgb.shape[1] == tile_px:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((tile_px, tile_px), Image.Resampling.LANCZOS))


def tile_position(tile: int, tiles_per_side: int) -> tuple[int, int, int]:
    """(sheet, column, row) of tile number ``tile``."""
    per_sheet = tiles_per_side * tiles_per_side
    return tile // per_sheet, tile % tiles_per_side, (tile % per_sheet) // tiles_per_side


def _stream_images(shards: Sequence[str | os.PathLike], wanted: set[str]) -> Iterator[tuple[str, np.ndarray]]:
    """(object_id, (bands, H, W) float32) of the wanted objects in shard order, one batch in memory at a time
    (galssl.shards.read_images_for would hold every cutout of 10^5 galaxies at once)."""
    for path in shards:
        schema = read_shard_schema(path)
        shape = image_shape(schema, path)
        shard = pq.ParquetFile(path)
        hashes = row_hashes(schema, shard.metadata.num_rows, path)  # each image checked against its content hash
        row = 0
        for batch in shard.iter_batches(batch_size=256, columns=["object_id", "image"]):
            for object_id, blob in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                if object_id in wanted:
                    yield object_id, decode_image(blob, shape, path, object_id, hashes, row)
                row += 1


def _save_sheet(pixels: np.ndarray, used: int, tiles_per_side: int, tile_px: int, path: Path) -> dict:
    """Write the used part of a sheet (whole rows of tiles) as PNG (lossless) or JPEG (quality 90, ~4x smaller);
    its entry in the page's sheet list."""
    rows = -(-used // tiles_per_side)
    width = min(used, tiles_per_side) * tile_px
    sheet = Image.fromarray(pixels[: rows * tile_px, :width])
    if path.suffix == ".png":
        sheet.save(path, format="PNG", compress_level=6)
    else:
        sheet.save(path, format="JPEG", quality=90, subsampling=0)
    return {"file": f"{path.parent.name}/{path.name}", "width": width, "height": rows * tile_px}


def write_sprite_sheets(shards: Sequence[str | os.PathLike], object_ids: Sequence[str], bands: Sequence[str],
                        survey: str, tile_px: int, tiles_per_side: int, out_dir: str | os.PathLike,
                        image_format: str = "png") -> SpriteSheets:
    """Composite every object's cutout into ``tile_px`` tiles on ``tiles_per_side`` x ``tiles_per_side`` sheets
    ``out_dir/sheet-NNN.png`` (or ``.jpg`` with ``image_format='jpeg'``); DataError when an object is in no shard."""
    suffix = ".png" if image_format == "png" else ".jpg"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    row_of = {object_id: row for row, object_id in enumerate(object_ids)}
    tile = np.full(len(object_ids), -1, dtype=np.int64)
    per_sheet = tiles_per_side * tiles_per_side
    side = tiles_per_side * tile_px
    pixels = np.zeros((side, side, 3), dtype=np.uint8)
    sheets: list[dict] = []
    count = 0
    display = shards_are_display(shards)
    for object_id, image in _stream_images(shards, set(row_of)):
        row = row_of[object_id]
        if tile[row] >= 0:  # an object in two shards keeps its first tile
            continue
        _, column, line = tile_position(count, tiles_per_side)
        pixels[line * tile_px:(line + 1) * tile_px, column * tile_px:(column + 1) * tile_px] = \
            thumbnail(image, bands, survey, tile_px, display)
        tile[row] = count
        count += 1
        if count % per_sheet == 0:
            sheets.append(_save_sheet(pixels, per_sheet, tiles_per_side, tile_px,
                                      out / f"sheet-{len(sheets):03d}{suffix}"))
            pixels[:] = 0
    if count % per_sheet:
        sheets.append(_save_sheet(pixels, count % per_sheet, tiles_per_side, tile_px,
                                  out / f"sheet-{len(sheets):03d}{suffix}"))
    if count < len(object_ids):
        missing = [object_ids[row] for row in np.flatnonzero(tile < 0)[:3]]
        raise DataError(f"{len(object_ids) - count} objects of the UMAP are in no shard (e.g. {missing}); "
                        "are the shards and the UMAP from the same survey?")
    return SpriteSheets(tile, sheets, tile_px, tiles_per_side)
