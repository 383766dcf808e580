"""The Python API (galssl.api, exported by `import galssl`) on a small ingested survey and a saved encoder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from astropy.table import Table

import galssl
from galssl.checkpoint import read_checkpoint, save_encoder
from galssl.embed import embed_with_manifest
from galssl.embeddings import embeddings_provenance, read_embeddings
from galssl.errors import DataError
from galssl.ingest import SurveySpec, ingest_shard, write_manifest
from galssl.methods import create_method
from galssl.mocksky.catalog import labels_table
from galssl.providers import ProviderContext, create_provider

SECTION = {"provider": "mock", "instrument": "sdss", "bands": ["g", "r", "i"], "pixel_scale_arcsec": 0.396,
           "cutout_size": 32}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """results/sdss/ of a tiny run: one shard of 24 mock objects, its manifest, a SimCLR encoder and its embeddings."""
    root = tmp_path_factory.mktemp("api")
    survey = root / "results" / "sdss"
    (survey / "shards").mkdir(parents=True)
    provider = create_provider(SECTION, ProviderContext("sdss", 5, str(root / "cache"), {"n_objects": 24}))
    catalog = provider.sky.catalog()
    catalog["split"] = "train"
    spec = SurveySpec.from_section("sdss", SECTION)
    shard = str(survey / "shards" / "shard-00000.parquet")
    ingest_shard(catalog, spec, provider, 0, 24, 5, shard, str(root / "failures-0.parquet"))  # one shard of 24
    write_manifest(spec, [shard], [str(root / "failures-0.parquet")], str(survey / "manifest.json"),
                   str(survey / "failures.parquet"), "test")
    torch.manual_seed(0)
    method = create_method("simclr", in_chans=3, img_size=24)
    checkpoint = survey / "simclr" / "encoder.ckpt"
    checkpoint.parent.mkdir()
    save_encoder(checkpoint, method, {"method": "simclr", "in_chans": 3, "img_size": 24, "config": {}})
    catalog.loc[catalog.index[:4], "split"] = "test"
    catalog.to_parquet(root / "catalog.parquet")
    embeddings = survey / "simclr" / "embeddings.parquet"
    embed_with_manifest(str(survey / "manifest.json"), [shard], method.eval().embed, 24, "simclr", str(embeddings),
                        catalog=root / "catalog.parquet",
                        provenance={"encoder_sha256": read_checkpoint(checkpoint)["sha256"]})
    labels_table(provider.sky).to_parquet(root / "labels.parquet")
    return root, survey, catalog


@pytest.mark.filterwarnings("ignore:No table")  # astropy: string widths are not in a pyarrow-written file
def test_embeddings_table_describes_itself_to_pandas_and_astropy(run):
    root, survey, catalog = run
    path = survey / "simclr" / "embeddings.parquet"
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["object_id", "ra", "dec", "split", "method", "vector"]
    expected = catalog.assign(object_id=catalog["object_id"].astype(str)).set_index("object_id").loc[frame["object_id"]]
    np.testing.assert_array_equal(frame["ra"], expected["ra"])
    assert list(frame["split"]) == list(expected["split"]) and (frame["split"] == "test").sum() == 4
    dim = len(frame["vector"].iloc[0])
    table = Table.read(path, format="parquet")  # astropy reads the vector column as a (24, dim) array
    assert len(table) == 24 and table["vector"].shape == (24, dim) and table["split"][0] in ("train", "test")
    provenance = embeddings_provenance(path)
    assert provenance["method"] == "simclr" and provenance["galssl_version"] == galssl.__version__
    assert provenance["bands"] == ["g", "r", "i"] and provenance["crop"] == 24 and provenance["dim"] == dim
    assert provenance["encoder_sha256"] == read_checkpoint(survey / "simclr" / "encoder.ckpt")["sha256"]
    catalog.iloc[1:].to_parquet(root / "few.parquet")  # mock000000 left out
    with pytest.raises(DataError, match="not in the catalogue, e.g. 'mock000000'"):
        embed_with_manifest(str(survey / "manifest.json"), [str(survey / "shards" / "shard-00000.parquet")],
                            lambda images: images.flatten(1), 24, "raw", str(root / "bad.parquet"),
                            catalog=root / "few.parquet")
    assert not (root / "bad.parquet").exists()


def test_import_galssl_stays_light():
    code = "import sys, galssl; galssl.__version__; print('torch' in sys.modules, 'faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        galssl.nope  # noqa: B018


def test_encoder_embeds_arrays_as_the_embed_rule_does(run):
    _, survey, _ = run
    encoder = galssl.load_encoder(survey / "simclr" / "encoder.ckpt", device="cpu")
    assert encoder.bands == ["g", "r", "i"] and encoder.crop == 24
    ids, images = galssl.read_shards(survey / "shards")
    assert images.shape == (24, 3, 32, 32) and len(ids) == 24
    written_ids, written = read_embeddings(survey / "simclr" / "embeddings.parquet")
    vectors = encoder.embed(images)
    order = [ids.index(object_id) for object_id in written_ids]
    np.testing.assert_allclose(vectors[order], written, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(encoder.embed(images[3]), vectors[3:4], rtol=1e-5, atol=1e-5)  # one (C, H, W) cutout
    shard_ids, shard_vectors = encoder.embed_shards(survey / "shards")
    assert shard_ids == written_ids
    np.testing.assert_allclose(shard_vectors, written, rtol=1e-5, atol=1e-5)
    with pytest.raises(DataError, match=r"images must be \(N, 3, H, W\) for bands \['g', 'r', 'i'\]"):
        encoder.embed(images[:, :2])
    with pytest.raises(DataError, match="smaller than the encoder's 24-px crop"):
        encoder.embed(images[:, :, :16, :16])
    with pytest.raises(DataError, match="manifest .* not found"):
        galssl.load_encoder(survey / "simclr" / "encoder.ckpt", manifest=survey / "nope.json")


def test_open_shards_is_a_dataset_of_raw_images(run):
    root, survey, _ = run
    dataset = galssl.open_shards(survey / "shards", labels=root / "labels.parquet", label_column="galaxy10_class")
    samples = list(dataset)
    assert len(samples) == 24 and samples[0]["image"].shape == (3, 32, 32) and "label" in samples[0]
    with pytest.raises(DataError, match="no shard at"):
        galssl.open_shards(root / "empty-folder")


def test_embeddings_join_their_labels_and_catalogue(run):
    root, survey, catalog = run
    table = galssl.load_embeddings(survey / "simclr" / "embeddings.parquet", labels=root / "labels.parquet",
                                   catalog=root / "catalog.parquet")
    assert len(table) == 24 and {"object_id", "method", "vector", "ra", "dec", "split", "galaxy10_class"} <= set(
        table.columns)
    assert table["object_id"].is_monotonic_increasing and (table["method"] == "simclr").all()
    row = table.iloc[5]
    expected = catalog.set_index("object_id").loc[row["object_id"]]
    assert row["ra"] == expected["ra"] and np.stack(table["vector"]).shape[0] == 24
    with pytest.raises(DataError, match="file not found"):
        galssl.load_embeddings(root / "missing.parquet")


def test_search_by_id_position_and_image(run):
    root, survey, catalog = run
    index_path = survey / "simclr" / "search" / "index.faiss"
    index_path.parent.mkdir()
    built = galssl.build_index(survey / "simclr" / "embeddings.parquet", index_path)
    index = galssl.load_index(index_path)
    assert index.object_ids == built.object_ids and len(index.object_ids) == 24
    query = index.object_ids[7]
    by_id = galssl.search(index, query, k=5)
    assert list(by_id["rank"]) == [1, 2, 3, 4, 5] and query not in set(by_id["object_id"])
    assert by_id["similarity"].is_monotonic_decreasing
    position = catalog.set_index("object_id").loc[query]
    by_position = galssl.search(index, (float(position["ra"]), float(position["dec"])), k=5,
                                catalog=root / "catalog.parquet")
    pd.testing.assert_frame_equal(by_position, by_id)
    encoder = galssl.load_encoder(survey / "simclr" / "encoder.ckpt", device="cpu")
    ids, images = galssl.read_shards(survey / "shards")
    by_image = galssl.search(index, images[ids.index(query)], k=6, encoder=encoder)
    assert by_image["object_id"].iloc[0] == query and by_image["similarity"].iloc[0] == pytest.approx(1.0, abs=1e-4)
    assert list(by_image["object_id"].iloc[1:]) == list(by_id["object_id"])
    with pytest.raises(DataError, match="needs the encoder"):
        galssl.search(index, images[0], k=3)
    with pytest.raises(DataError, match="needs catalog="):
        galssl.search(index, (150.0, 2.0), k=3)
    with pytest.raises(DataError, match="is not in the index"):
        galssl.search(index, "no-such-object", k=3)
