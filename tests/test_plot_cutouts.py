"""`galssl plot-cutouts`: the gallery of ingested cutouts, per split or per class and split, flux or display."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galssl.cli import main
from galssl.plots.cutouts import UNLABELLED, choose_cutouts, cutouts_figure_from_files
from galssl.shards import ShardRow, shard_schema, write_shard

SIZE = 24
SPLITS = ["train"] * 12 + ["val"] * 6 + ["test"] * 6


def write_dataset(tmp_path, bands: list[str], unit: str) -> tuple[list[str], str]:
    """One shard of 24 objects with a bright square in each (display values or fluxes) and its manifest."""
    rng = np.random.default_rng(0)
    rows = []
    for index, split in enumerate(SPLITS):
        image = rng.normal(10.0 if unit == "display" else 0.0, 1.0, (len(bands), SIZE, SIZE)).astype(np.float32)
        image[:, 9:15, 9:15] += 200.0 if unit == "display" else 5.0
        zeros = np.zeros(len(bands), np.float32)
        rows.append(ShardRow(f"obj{index:03d}", np.nan, np.nan, "mine", split, image, zeros, zeros * np.nan,
                             zeros + 10.0, zeros + 1.0, unit))
    shard = tmp_path / "shard-00000.parquet"
    write_shard(shard, rows, shard_schema(bands, SIZE, 0.5, unit))
    manifest = {"bands": bands, "image_shape": [len(bands), SIZE, SIZE], "image_unit": f"{unit} per target pixel",
                "band_statistics": {band: {"sky_median": 10.0, "sky_mad": 1.0} for band in bands}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return [str(shard)], str(tmp_path / "manifest.json")


def write_labels(tmp_path) -> str:
    classes = [0, 1, -1] * 8
    path = tmp_path / "labels.csv"
    pd.DataFrame({"object_id": [f"obj{i:03d}" for i in range(24)], "kind": classes}).to_csv(path, index=False)
    return str(path)


def run_cli(tmp_path, shards, manifest, *extra) -> np.ndarray:
    out = tmp_path / "cutouts.png"
    main(["plot-cutouts", "--shards", *shards, "--manifest", manifest, "--crop", "16", "--survey", "mine",
          "--survey-config", json.dumps({"provider": "files"}), "--seed", "5", "--out", str(out), *extra])
    return np.asarray(Image.open(out))


def test_gallery_per_split_has_the_expected_size(tmp_path):
    shards, manifest = write_dataset(tmp_path, ["red", "green", "blue"], "display")
    pixels = run_cli(tmp_path, shards, manifest, "--per-split", "4")
    # 3 rows (splits) of 4 thumbnails: max(6, 4 x 1.05 + 1.5) in wide, 3 x 1.05 x 1.22 + 1.1 in high, at 150 dpi.
    assert pixels.shape[1] == pytest.approx(6.0 * 150, abs=1)
    assert pixels.shape[0] == pytest.approx((3 * 1.05 * 1.22 + 1.1) * 150, abs=1)


def test_gallery_by_class_has_a_row_per_class_and_column_groups_per_split(tmp_path):
    shards, manifest = write_dataset(tmp_path, ["g", "r", "i", "z"], "nanomaggy")  # four flux bands
    labels = write_labels(tmp_path)
    config = json.dumps({"class_column": "kind", "class_names": ["round", "spiral"]})
    pixels = run_cli(tmp_path, shards, manifest, "--labels", labels, "--labels-config", config, "--per-class", "2")
    # 3 rows (round, spiral, unlabelled); 3 splits x 2 thumbnails + 2 narrow (0.3) gaps.
    assert pixels.shape[1] == pytest.approx(((6 + 2 * 0.3) * 1.05 + 1.5) * 150, abs=1)
    assert pixels.shape[0] == pytest.approx((3 * 1.05 * 1.22 + 1.1) * 150, abs=1)
    figure = cutouts_figure_from_files(shards, manifest, labels, config, 16, 5, "mine", "sdss", per_class=2)
    labels_shown = [axis.get_ylabel() for axis in figure.axes if axis.get_ylabel()]
    assert labels_shown == ["round\n(8 objects)", "spiral\n(8 objects)", f"{UNLABELLED}\n(8 objects)"]
    ids_shown = [axis.get_xlabel() for axis in figure.axes if axis.get_xlabel()]
    assert len(ids_shown) == 18 and all(name.startswith("obj") for name in ids_shown)
    assert "the 16-px centre crop" in " ".join(figure._suptitle.get_text().split())


def test_display_thumbnails_are_the_stored_values():
    from galssl.plots.cutouts import cutouts_figure

    sample = pd.DataFrame({"object_id": ["a"], "split": ["train"], "group": ["train"]})
    image = np.zeros((1, 3, 8, 8), np.float32)
    image[0, 0], image[0, 1], image[0, 2] = 30.0, 60.0, 90.0
    figure = cutouts_figure(sample, image, ["red", "green", "blue"], "", 8, True, "t", 1)
    shown = figure.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(shown)[0, 0], [30, 60, 90])


def test_the_sample_is_fixed_by_the_seed_and_drawn_per_split_and_class():
    objects = pd.DataFrame({"object_id": [f"o{i:02d}" for i in range(30)], "split": ["train", "val", "test"] * 10,
                            "label": [0, 0, 1, 1, -1] * 6})
    first = choose_cutouts(objects, 2, seed=3, class_names={0: "smooth_round"})
    shuffled = choose_cutouts(objects.sample(frac=1.0, random_state=1), 2, seed=3, class_names={0: "smooth_round"})
    pd.testing.assert_frame_equal(first, shuffled)  # the order of the shards does not matter
    assert first.groupby(["split", "group"]).size().eq(2).all()
    assert list(dict.fromkeys(first["group"])) == ["smooth round", "class 1", UNLABELLED]
    assert list(dict.fromkeys(first["split"])) == ["train", "val", "test"]
    assert not first.equals(choose_cutouts(objects, 2, seed=4))
    per_split = choose_cutouts(objects.drop(columns="label"), 20, seed=3)
    assert per_split.groupby("split").size().to_dict() == {"test": 10, "train": 10, "val": 10}  # all, when fewer


def test_explorer_sprites_show_display_shards_as_stored(tmp_path):
    from galssl.composite import display_rgb
    from galssl.explorer.sprites import tile_position, write_sprite_sheets
    from galssl.shards import read_images

    shards, _ = write_dataset(tmp_path, ["red", "green", "blue"], "display")
    object_ids, images = read_images(shards[0])
    sprites = write_sprite_sheets(shards, object_ids[:4], ["red", "green", "blue"], "sdss", SIZE, 2,
                                  tmp_path / "sprites")
    sheet = np.asarray(Image.open(tmp_path / "sprites" / "sheet-000.png").convert("RGB"))
    for index in range(4):
        _, column, row = tile_position(int(sprites.tile[index]), 2)
        tile = sheet[row * SIZE:(row + 1) * SIZE, column * SIZE:(column + 1) * SIZE]
        np.testing.assert_array_equal(tile, display_rgb(images[index], ["red", "green", "blue"]))
