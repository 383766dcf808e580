"""Shard streaming: exact work split over ranks and workers, drop_uneven, determinism, splits, labels,
normalisation, per-sample augmentation generators, and memory that stays flat in dataset size."""

from __future__ import annotations

import json
import math
import tracemalloc
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

from galssl.data import (
    AsinhNormalise,
    ShardDataset,
    collate,
    distributed_world,
    load_manifest,
    sample_generator,
    shard_paths,
)
from galssl.errors import ConfigError, DataError
from galssl.shards import ShardRow, shard_schema, write_shard

BANDS = ["g", "r", "i"]


def object_id(index: int) -> str:
    return f"obj{index:05d}"


def split_of(index: int) -> str:
    return "test" if index % 4 == 0 else "val" if index % 4 == 1 else "train"


def make_shards(directory, n_shards: int, rows_per_shard: int, size: int = 8) -> list[str]:
    """Shards whose images hold their object's index (band b adds 1000·b), so ids and pixels can be cross-checked."""
    directory.mkdir(parents=True, exist_ok=True)
    schema = shard_schema(BANDS, size, 0.4)
    paths = []
    for shard in range(n_shards):
        rows = []
        for index in range(shard * rows_per_shard, (shard + 1) * rows_per_shard):
            image = np.stack([np.full((size, size), index + 1000.0 * band, np.float32) for band in range(len(BANDS))])
            rows.append(ShardRow(object_id(index), 10.0, 1.0, "mock", split_of(index), image, np.zeros(3),
                                 np.ones(3), np.zeros(3), np.ones(3)))
        path = directory / "shards" / f"shard-{shard:05d}.parquet"
        path.parent.mkdir(exist_ok=True)
        write_shard(path, rows, schema)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[str]:
    return make_shards(tmp_path_factory.mktemp("mock"), n_shards=5, rows_per_shard=7)


ALL_IDS = [object_id(i) for i in range(35)]


def consume(paths, world_size: int, num_workers: int, epoch: int = 0, key: str = "object_id", **kwargs) -> list[list]:
    """What each rank's DataLoader yields, rank by rank."""
    per_rank = []
    for rank in range(world_size):
        dataset = ShardDataset(paths, rank=rank, world_size=world_size, **kwargs)
        dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=3, num_workers=num_workers, collate_fn=collate)
        per_rank.append([item for batch in loader for item in batch[key]])
    return per_rank


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_inference_sees_every_object_exactly_once(shards, world_size, num_workers):
    per_rank = consume(shards, world_size, num_workers)
    seen = [oid for ids in per_rank for oid in ids]
    assert Counter(seen) == Counter(ALL_IDS)
    assert max(map(len, per_rank)) - min(map(len, per_rank)) <= 1
    for rank, ids in enumerate(per_rank):
        assert len(ShardDataset(shards, rank=rank, world_size=world_size)) == len(ids)


def test_more_consumers_than_shards_and_images_match_ids(tmp_path):
    paths = make_shards(tmp_path, n_shards=1, rows_per_shard=5)
    per_rank = consume(paths, 3, 2, key="image")  # 6 consumers, one shard
    images = [image for rank in per_rank for image in rank]
    ids = [oid for rank in consume(paths, 3, 2) for oid in rank]
    assert sorted(ids) == [object_id(i) for i in range(5)]
    for oid, image in zip(ids, images):
        index = int(oid[3:])
        assert image.shape == (3, 8, 8) and image.dtype == torch.float32
        assert image[0, 0, 0] == index and image[2, 7, 7] == index + 2000


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("world_size", [2, 3])
def test_drop_uneven_gives_every_rank_the_same_samples_and_batches(shards, world_size, num_workers):
    per_rank = []
    for rank in range(world_size):
        dataset = ShardDataset(shards, rank=rank, world_size=world_size, drop_uneven=True, shuffle=True, seed=3)
        batches = list(DataLoader(dataset, batch_size=4, num_workers=num_workers, collate_fn=collate))
        per_rank.append((len(batches), [oid for batch in batches for oid in batch["object_id"]]))
        assert len(dataset) == 35 // world_size
    assert len({n_batches for n_batches, _ in per_rank}) == 1
    assert {len(ids) for _, ids in per_rank} == {35 // world_size}
    seen = [oid for _, ids in per_rank for oid in ids]
    assert len(seen) == len(set(seen)) and 35 - len(seen) < world_size


def test_shuffle_is_deterministic_per_seed_and_epoch(shards):
    options = dict(shuffle=True, shuffle_buffer=6, seed=7)
    first = consume(shards, 2, 2, epoch=1, **options)
    assert first == consume(shards, 2, 2, epoch=1, **options)
    other_epoch = consume(shards, 2, 2, epoch=2, **options)
    assert other_epoch != first
    for order in (first, other_epoch):
        assert sorted(oid for ids in order for oid in ids) == ALL_IDS
    assert consume(shards, 1, 0, epoch=1, **options) != consume(shards, 1, 0, epoch=1, **{**options, "seed": 8})
    assert consume(shards, 1, 0)[0] == ALL_IDS  # no shuffle: shard order, then file order


@pytest.mark.parametrize("world_size,num_workers", [(1, 0), (2, 2)])
def test_split_filtering(shards, world_size, num_workers):
    per_rank = consume(shards, world_size, num_workers, splits=("test",))
    seen = sorted(oid for ids in per_rank for oid in ids)
    assert seen == [oid for i, oid in enumerate(ALL_IDS) if split_of(i) == "test"]
    both = consume(shards, 1, 0, splits=("train", "val"))[0]
    assert sorted(both) == [oid for i, oid in enumerate(ALL_IDS) if split_of(i) != "test"]
    assert len(ShardDataset(shards, splits="test")) == len(seen)


@pytest.mark.parametrize("world_size,num_workers", [(1, 0), (2, 2)])
def test_object_id_subset_within_a_split(shards, world_size, num_workers):
    train = [oid for i, oid in enumerate(ALL_IDS) if split_of(i) == "train"]
    subset = train[::3] + [oid for i, oid in enumerate(ALL_IDS) if split_of(i) == "test"][:2]  # test ids: not train
    per_rank = consume(shards, world_size, num_workers, splits=("train",), object_ids=subset)
    assert sorted(oid for ids in per_rank for oid in ids) == sorted(train[::3])
    assert len(ShardDataset(shards, splits=("train",), object_ids=subset)) == len(train[::3])
    assert len(ShardDataset(shards, object_ids=subset)) == len(subset)


def test_labels_join_with_missing_values(shards):
    labels = pd.DataFrame({"object_id": [object_id(i) for i in range(0, 35, 2)],
                           "galaxy10_class": [i % 10 for i in range(0, 35, 2)],
                           "smooth_or_featured__smooth_fraction": [0.25] * 18,
                           "smooth_or_featured__featured_or_disk_fraction": [np.nan] + [0.5] * 17})
    labels.loc[1, "galaxy10_class"] = -1  # a star: no Galaxy10 class
    columns = ["smooth_or_featured__smooth_fraction", "smooth_or_featured__featured_or_disk_fraction"]
    for table in (labels, labels.set_index("object_id")):
        dataset = ShardDataset(shards, labels=table, label_column="galaxy10_class", target_columns=columns)
        batch = collate(list(dataset))
        assert batch["label"].dtype == torch.int64 and batch["label"].shape == (35,)
        assert batch["target"].dtype == torch.float32 and batch["target"].shape == (35, 2)
        by_id = dict(zip(batch["object_id"], zip(batch["label"].tolist(), batch["target"].tolist())))
        assert by_id[object_id(4)] == (4, [0.25, 0.5])
        assert by_id[object_id(2)][0] == -1
        assert by_id[object_id(0)][0] == 0 and math.isnan(by_id[object_id(0)][1][1])
        label, target = by_id[object_id(3)]  # not in the table
        assert label == -1 and all(math.isnan(value) for value in target)
    with pytest.raises(DataError, match="no column"):
        ShardDataset(shards, labels=labels, label_column="missing_column")
    with pytest.raises(ConfigError):
        ShardDataset(shards, label_column="galaxy10_class")


def test_asinh_normalise_hand_computed():
    normalise = AsinhNormalise([0.5, 2.0], softening=3.0)  # scales 1.5 and 6 flux units
    image = torch.tensor([[[0.0, 1.5]], [[-6.0, 60.0]]])
    expected = torch.tensor([[[0.0, math.asinh(1.0)]], [[-math.asinh(1.0), math.asinh(10.0)]]])
    torch.testing.assert_close(normalise(image), expected)
    torch.testing.assert_close(normalise(image[None])[0], expected)  # batched images too
    manifest = {"bands": ["g", "r"], "image_shape": [2, 1, 2],
                "band_statistics": {"g": {"sky_mad": 0.5}, "r": {"sky_mad": 2.0}}}
    torch.testing.assert_close(AsinhNormalise.from_manifest(manifest)(image), expected)
    with pytest.raises(DataError):
        AsinhNormalise.from_manifest({**manifest, "band_statistics": {"g": {"sky_mad": 0.5}, "r": {"sky_mad": None}}})
    with pytest.raises(ConfigError):
        AsinhNormalise([0.5, 0.0])
    with pytest.raises(DataError, match="bands"):
        normalise(torch.zeros(3, 2, 2))


def test_load_manifest_and_shard_paths(tmp_path, shards):
    with pytest.raises(DataError, match="not found"):
        load_manifest(tmp_path / "manifest.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="JSON"):
        load_manifest(tmp_path / "bad.json")
    (tmp_path / "partial.json").write_text(json.dumps({"bands": ["g"]}))
    with pytest.raises(DataError, match="image_shape"):
        load_manifest(tmp_path / "partial.json")
    good = {"bands": ["g"], "image_shape": [1, 8, 8], "band_statistics": {"g": {"sky_mad": 1.0}}}
    (tmp_path / "manifest.json").write_text(json.dumps(good))
    assert load_manifest(tmp_path / "manifest.json") == good
    results_dir = shards[0].rsplit("/", 3)[0]
    survey = shards[0].rsplit("/", 3)[1]
    assert shard_paths(results_dir, survey) == sorted(shards)
    with pytest.raises(DataError, match="no shards"):
        shard_paths(tmp_path, "nosurvey")


def add_uniform_noise(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A stand-in augmentation: one random number from the per-sample generator added to every pixel."""
    return image + torch.rand(1, generator=generator)


def test_augmentations_depend_only_on_seed_epoch_and_object(shards):
    def offsets(world_size, num_workers, epoch, shuffle):
        per_rank = consume(shards, world_size, num_workers, epoch=epoch, key="image", transform=add_uniform_noise,
                           shuffle=shuffle, seed=5)
        ids = consume(shards, world_size, num_workers, epoch=epoch, shuffle=shuffle, seed=5)
        return {oid: float(image[0, 0, 0] - int(oid[3:]))
                for rank_ids, rank_images in zip(ids, per_rank) for oid, image in zip(rank_ids, rank_images)}

    reference = offsets(1, 0, epoch=0, shuffle=False)
    assert offsets(3, 2, epoch=0, shuffle=True) == pytest.approx(reference, abs=1e-4)
    expected = {oid: float(torch.rand(1, generator=sample_generator(5, 0, oid))) for oid in ALL_IDS}
    assert reference == pytest.approx(expected, abs=1e-4)
    other_epoch = offsets(2, 2, epoch=1, shuffle=True)
    assert sum(abs(other_epoch[oid] - reference[oid]) > 1e-3 for oid in ALL_IDS) > 30


def peak_bytes_while_iterating(paths: list[str]) -> int:
    dataset = ShardDataset(paths, shuffle=True, shuffle_buffer=8, read_batch_size=8)
    tracemalloc.start()
    try:
        count = sum(1 for _ in dataset)
        return tracemalloc.get_traced_memory()[1] if count == len(dataset) else -1
    finally:
        tracemalloc.stop()


def test_memory_is_flat_in_dataset_size(tmp_path, monkeypatch):
    calls = []
    iter_batches = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return iter_batches(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("a whole table was read"))
    image_bytes = 3 * 32 * 32 * 4
    small = make_shards(tmp_path / "small", n_shards=2, rows_per_shard=48, size=32)
    large = make_shards(tmp_path / "large", n_shards=8, rows_per_shard=48, size=32)
    peak_small, peak_large = peak_bytes_while_iterating(small), peak_bytes_while_iterating(large)
    assert peak_small > 0 and peak_large > 0
    assert peak_large < peak_small + 8 * image_bytes  # 4x the data, well under one extra read batch of memory
    assert peak_large < 48 * image_bytes  # never a whole shard
    assert calls and all(call == {"batch_size": 8, "columns": ["object_id", "image"]} for call in calls)


def test_world_comes_from_arguments_then_environment(shards, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed_world() == (1, 2)
    assert distributed_world(0, 3) == (0, 3)
    assert list(ShardDataset(shards))[0]["object_id"] == ALL_IDS[17]  # rank 1 of 2 starts at 35 // 2
    monkeypatch.delenv("RANK")
    assert distributed_world() == (0, 1)
    with pytest.raises(ConfigError):
        distributed_world(2, 2)
    with pytest.raises(DataError, match="cannot feed"):
        list(ShardDataset(shards, splits="test", rank=0, world_size=16, drop_uneven=True))


def test_content_hash_checks_each_row_a_reader_yields(tmp_path):
    """Rows are checked as they are read: a rank whose block holds the edited row stops with one line naming the
    shard and row, the other rank never reads it; a faithful rewrite (other compression and row groups) and a
    shard written before the hashes (no hash metadata) read as before."""
    [path] = make_shards(tmp_path, n_shards=1, rows_per_shard=8)
    table = pq.read_table(path)
    pq.write_table(table, tmp_path / "rewritten.parquet", compression="snappy", row_group_size=3)
    assert [sample["object_id"] for sample in ShardDataset([tmp_path / "rewritten.parquet"], read_batch_size=2)] \
        == [object_id(i) for i in range(8)]
    images = table.column("image").to_pylist()
    pixels = np.frombuffer(images[6], np.float32).copy()
    pixels[0] += 1.0  # one pixel of obj00006, in the second half of the shard
    images[6] = pixels.tobytes()
    edited = table.set_column(table.schema.get_field_index("image"), "image", pa.array(images, pa.binary()))
    pq.write_table(edited, path)
    assert len(list(ShardDataset([path], rank=0, world_size=2))) == 4
    with pytest.raises(DataError, match=r"^shard .*shard-00000.parquet: content hash mismatch \(row 6, object "
                                        r"'obj00006'\).*rerun its rule ingest_shard: `snakemake --forcerun "):
        list(ShardDataset([path], rank=1, world_size=2, read_batch_size=3))
    metadata = {key: value for key, value in edited.schema.metadata.items() if key != b"galssl.row_sha256"}
    pq.write_table(edited.replace_schema_metadata(metadata), tmp_path / "older.parquet")
    assert len(list(ShardDataset([tmp_path / "older.parquet"]))) == 8
