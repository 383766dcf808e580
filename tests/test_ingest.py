"""Ingest with the mock provider: shard assignment, byte-stable shards, manifest, failures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from galssl.ingest import SurveySpec, ingest_shard, write_manifest
from galssl.providers import ProviderContext, create_provider
from galssl.providers.base import FetchError
from galssl.shards import assign_shards, read_images

SECTION = {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"], "pixel_scale_arcsec": 0.396,
           "cutout_size": 32}
MOCK = {"n_objects": 24}


@pytest.fixture(scope="module")
def setup():
    provider = create_provider(SECTION, ProviderContext("sdss", 11, "unused", MOCK))
    catalog = provider.sky.catalog()
    catalog["split"] = np.where(np.arange(len(catalog)) % 5 == 0, "test", "train")
    return provider, catalog, SurveySpec.from_section("sdss", SECTION)


def test_shard_assignment_is_deterministic_balanced_and_complete():
    ids = [f"obj{i:04d}" for i in range(1000)]
    assignment = assign_shards(ids, 300, seed=5)
    assert assignment == assign_shards(list(reversed(ids)), 300, seed=5)
    counts = pd.Series(assignment).value_counts().sort_index()
    assert counts.tolist() == [300, 300, 300, 100]
    assert assign_shards(ids, 300, seed=6) != assignment


def test_shards_are_byte_identical_and_readable_with_pyarrow(tmp_path, setup):
    provider, catalog, spec = setup
    paths = []
    for run in ("a", "b"):
        shard, failures = tmp_path / run / "shard.parquet", tmp_path / run / "failures.parquet"
        ok, failed = ingest_shard(catalog, spec, provider, 0, 12, 11, str(shard), str(failures), threads=2)
        assert (ok, failed) == (12, 0)
        paths.append(shard)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    table = pq.read_table(paths[0])
    assert table.column_names[:5] == ["object_id", "ra", "dec", "survey", "split"]
    shape = json.loads(table.schema.metadata[b"galssl.image_shape"])
    images = np.frombuffer(b"".join(table["image"].to_pylist()), "<f4").reshape(len(table), *shape)
    assert images.shape == (12, 3, 32, 32)
    ids, again = read_images(paths[0])
    np.testing.assert_array_equal(images, again)
    assert ids == sorted(ids)
    # Catalogue objects are bright at the centre in r, and the per-band sky noise is recorded.
    centre = images[:, 1, 14:18, 14:18].mean(axis=(1, 2))
    assert np.median(centre) > 5 * np.median(np.stack(table["sky_mad"].to_pylist())[:, 1])
    # No-data shares per band (a list like sky_mad); the mock sky covers every pixel.
    assert table.schema.field("mask_fraction").type.equals(table.schema.field("sky_mad").type)
    assert table["mask_fraction"].to_pylist() == [[0.0, 0.0, 0.0]] * 12


class FlakyProvider:
    """Fails every third object permanently (a test double of a network provider)."""

    def __init__(self, inner):
        self.inner, self.name, self.bands = inner, "flaky", inner.bands

    def fetch(self, object_id, ra, dec, size_arcsec):
        if int(object_id[-2:]) % 3 == 0:
            raise FetchError("HTTP 500 after 5 attempts", attempts=5)
        return self.inner.fetch(object_id, ra, dec, size_arcsec)


def test_failures_are_recorded_and_manifest_gathers(tmp_path, setup):
    provider, catalog, spec = setup
    shard_paths, failure_paths = [], []
    for index in (0, 1):
        shard, failures = tmp_path / f"s{index}.parquet", tmp_path / f"f{index}.parquet"
        ingest_shard(catalog, spec, FlakyProvider(provider), index, 12, 11, str(shard), str(failures))
        shard_paths.append(str(shard))
        failure_paths.append(str(failures))
    manifest = write_manifest(spec, shard_paths, failure_paths, str(tmp_path / "manifest.json"),
                              str(tmp_path / "failures.parquet"), "hash123")
    failures = pd.read_parquet(tmp_path / "failures.parquet")
    expected_failed = sum(int(i[-2:]) % 3 == 0 for i in catalog["object_id"])
    assert len(failures) == expected_failed and (failures["attempts"] == 5).all()
    assert failures["reason"].str.contains("500").all()
    assert manifest["counts"]["objects"] + manifest["counts"]["failed"] == len(catalog)
    assert manifest["image_shape"] == [3, 32, 32] and manifest["bands"] == ["g", "r", "i"]
    assert set(manifest["band_statistics"]) == {"g", "r", "i"}
    assert 0 < manifest["band_statistics"]["r"]["sky_mad"] < 0.2
    assert manifest["band_statistics"]["g"]["mask_fraction_max"] == 0.0 and manifest["mask_fraction_mean"] == 0.0
    assert manifest["max_mask_fraction"] == 0.2
    assert manifest["config_hash"] == "hash123" and "reproject" in manifest["versions"]
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest


def test_empty_shard_index_is_a_clear_error(tmp_path, setup):
    provider, catalog, spec = setup
    from galssl.errors import ConfigError
    with pytest.raises(ConfigError, match="shard 7 is empty"):
        ingest_shard(catalog, spec, provider, 7, 12, 11, str(tmp_path / "s.parquet"), str(tmp_path / "f.parquet"))
    assert not (tmp_path / "s.parquet").exists()


def test_atomic_outputs_get_normal_permissions(tmp_path):
    import os
    import stat

    from galssl.io import write_text_atomic

    umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "x.txt", "hello")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


@pytest.mark.parametrize("damaged", ["shard", "failures"])
def test_damaged_shard_keeps_the_previous_manifest(tmp_path, setup, damaged):
    from galssl.errors import DataError

    provider, catalog, spec = setup
    paths = [str(tmp_path / f"{kind}-{index}.parquet") for index in (0, 1) for kind in ("shard", "failures")]
    for index in (0, 1):
        ingest_shard(catalog, spec, provider, index, 12, 11, paths[2 * index], paths[2 * index + 1])
    manifest, failures_out = tmp_path / "out" / "manifest.json", tmp_path / "out" / "failures.parquet"
    write_manifest(spec, paths[0::2], paths[1::2], str(manifest), str(failures_out), "before")
    before = {path: path.read_bytes() for path in (manifest, failures_out)}
    victim = paths[2] if damaged == "shard" else paths[3]  # the second shard (or its failures table), cut short
    with open(victim, "r+b") as handle:
        handle.truncate(len(open(victim, "rb").read()) // 2)
    with pytest.raises(DataError) as error:
        write_manifest(spec, paths[0::2], paths[1::2], str(manifest), str(failures_out), "after")
    message = str(error.value)
    what = "shard" if damaged == "shard" else "failures table"
    assert message.startswith(f"{what} {victim}: cannot read it as Parquet") and len(message.splitlines()) == 1
    assert f"snakemake --forcerun {victim}" in message
    assert {path: path.read_bytes() for path in (manifest, failures_out)} == before
    assert sorted(path.name for path in manifest.parent.iterdir()) == ["failures.parquet", "manifest.json"]
