"""Nothing silent (issue #17): one table of bad inputs — configs, config files, catalogues, splits, checkpoints and
images — each refused before any work with exactly one line that names the key (or file and column) and the fix,
and without writing anything.

Most cases call galssl in-process (validate_config, load_config, the catalogue reader, ...); a few go through the
`galssl validate-config` command, and three through `snakemake -n`, the way a user meets them.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from galssl.catalog import assign_split, normalise_catalog
from galssl.config import load_config, validate_config
from galssl.display import check_display_bands
from galssl.errors import ConfigError, DataError
from galssl.providers.base import FetchError
from galssl.providers.images import read_display_image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
BIN = Path(sys.executable).parent
SPLIT = {"train": 0.7, "val": 0.1, "test": 0.2}
NAN, INF = float("nan"), float("inf")

Outcome = tuple[str, str]
"""(what stopped it: an exception class name or 'exit 1', the message a user sees)."""
Runner = Callable[[Path, Path], Outcome]
"""Builds the bad input under the first folder, runs galssl with the second as its only output folder."""


@dataclass(frozen=True)
class Bad:
    """One bad input: how to make and run it, what must stop it, and what its one line must say."""

    id: str
    run: Runner
    stopped_by: str
    key: str
    fix: str


# --- how bad inputs are built and run ---------------------------------------------------------------------------

def _caught(action: Callable[[], Any]) -> Outcome:
    """Run ``action`` and return the galssl error it raised; a bad input that passes fails the test."""
    try:
        action()
    except (ConfigError, DataError, FetchError) as error:
        return type(error).__name__, str(error)
    pytest.fail("the bad input was accepted")


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``config[a][b]...`` for the path ``a.b...`` (missing mappings are created)."""
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def config(*changes: tuple[str, Any], drop: str | None = None) -> Runner:
    """config/config.yaml with ``(dotted key, value)`` changes (and one key dropped), through validate_config."""
    def run(inputs: Path, work: Path) -> Outcome:
        changed = copy.deepcopy(DEFAULT_CONFIG)
        for dotted, value in changes:
            _set(changed, dotted, value)
        if drop:
            *parents, last = drop.split(".")
            node = changed
            for key in parents:
                node = node[key]
            del node[last]
        return _caught(lambda: validate_config(changed))
    return run


def survey(name: str, **section: Any) -> Runner:
    """The default config plus one more survey ``name`` with ``section``."""
    return config((f"surveys.{name}", section))


def config_file(content: str | bytes) -> Runner:
    """A config file with this text (or these bytes), through load_config."""
    def run(inputs: Path, work: Path) -> Outcome:
        path = inputs / "config.yaml"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return _caught(lambda: load_config(path))
    return run


def cli(content: str | bytes) -> Runner:
    """`galssl validate-config FILE` on a file with this text (or these bytes), run in the output folder."""
    def run(inputs: Path, work: Path) -> Outcome:
        path = inputs / "config.yaml"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        result = subprocess.run([str(BIN / "galssl"), "validate-config", str(path)], cwd=work, capture_output=True,
                                text=True, timeout=120, check=False)
        assert not result.stdout
        return f"exit {result.returncode}", result.stderr
    return run


def snakemake(content: str) -> Runner:
    """`snakemake -n all` of the repository's Snakefile with this config file, working in the output folder."""
    def run(inputs: Path, work: Path) -> Outcome:
        path = inputs / "config.yaml"
        path.write_text(content, encoding="utf-8")
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
        result = subprocess.run([str(BIN / "snakemake"), "-n", "--snakefile", str(REPO / "Snakefile"), "--configfile",
                                 str(path), "--directory", str(work), "all"], cwd=REPO, capture_output=True,
                                text=True, timeout=300, env=env, check=False)
        lines = [line for line in (result.stdout + result.stderr).splitlines()
                 if line and not line.startswith("Using workflow specific profile")]  # Snakemake's own notice
        return f"exit {result.returncode}", "\n".join(lines)
    return run


def _frame(n: int = 12, **columns: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame({"object_id": [f"g{i}" for i in range(1, n + 1)], "ra": np.linspace(10.0, 20.0, n),
                          "dec": np.linspace(-5.0, 5.0, n)})
    for column, values in columns.items():
        frame = frame.iloc[:len(values)].copy()
        frame[column] = pd.Series(values, dtype=object if any(isinstance(v, str) for v in values) else None)
    return frame


def _write(content: pd.DataFrame | bytes, path: Path) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif path.suffix == ".csv":
        content.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        content.to_parquet(path, index=False)
    else:
        from astropy.table import Table

        Table.from_pandas(content).write(path, format="fits")
    return path


def catalog(name: str, content: Callable[[], pd.DataFrame | bytes], labels: pd.DataFrame | None = None,
            **columns: str) -> Runner:
    """A catalogue file (and optionally a label table), through normalise_catalog into the output folder."""
    def run(inputs: Path, work: Path) -> Outcome:
        path = _write(content(), inputs / name) if name != "missing.csv" else inputs / name
        label_path = _write(labels, inputs / "labels.csv") if labels is not None else None
        return _caught(lambda: normalise_catalog(path, work / "catalog.parquet", split_fractions=SPLIT, seed=1,
                                                 labels_path=label_path, **columns))
    return run


def _fits(frame: pd.DataFrame, **cards: str) -> Callable[[], bytes]:
    """A FITS table of ``frame`` with these header cards changed (TTYPEn, TUNITn: what astropy will not write)."""
    def build() -> bytes:
        import io

        from astropy.io import fits
        from astropy.table import Table

        hdu = fits.table_to_hdu(Table.from_pandas(frame))
        renamed = {card: value for card, value in cards.items() if card in hdu.header}  # astropy would undo these
        for card, value in cards.items():
            if card not in renamed:
                hdu.header[card] = value
        old_images = {card: hdu.header.cards[card].image for card in renamed}
        buffer = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
        body = buffer.getvalue()
        for card, value in renamed.items():  # same 80-byte card, new value, patched into the written header
            body = body.replace(old_images[card].encode(), fits.Card(card, value).image.encode(), 1)
        return body
    return build


def _ecsv(**units: str) -> Callable[[], bytes]:
    """An ECSV catalogue whose columns carry these units."""
    def build() -> bytes:
        import io

        from astropy.table import Table

        table = Table.from_pandas(_frame())
        for column, unit in units.items():
            table[column].unit = unit
        buffer = io.StringIO()
        table.write(buffer, format="ascii.ecsv")
        return buffer.getvalue().encode()
    return build


def _parquet_bytes(names: list[str]) -> bytes:
    """A Parquet table with these (possibly repeated) column names: pyarrow writes what pandas will not."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [pa.array(["g1", "g2"]) if name == "object_id" else pa.array([1.0, 2.0]) for name in names]
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns, names=names), buffer)
    return buffer.getvalue()


def unsafe_id(bad: str) -> Runner:
    return catalog("cat.parquet", lambda: _frame(object_id=["ok1", "ok2", bad]))


def split(fractions: dict[str, Any]) -> Runner:
    """assign_split of a few ids with these fractions."""
    return lambda inputs, work: _caught(lambda: assign_split(["a", "b", "c"], fractions, seed=1))


def checkpoint(payload: Callable[[], Any] | bytes | None) -> Runner:
    """read_checkpoint of a file holding ``torch.save(payload())``, these raw bytes, or nothing at all."""
    def run(inputs: Path, work: Path) -> Outcome:
        import torch

        from galssl.checkpoint import read_checkpoint

        path = inputs / "encoder.ckpt"
        if isinstance(payload, bytes):
            path.write_bytes(payload)
        elif payload is not None:
            torch.save(payload(), path)
        return _caught(lambda: read_checkpoint(path))
    return run


def _payload(**changes: Any) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        import torch

        from galssl.checkpoint import FORMAT, content_hash

        recipe = {"method": "simclr", "in_chans": 3, "img_size": 16, "config": {}}
        state = {"weight": torch.ones(2, 2)}
        payload = {"format": FORMAT, "recipe": recipe, "state_dict": state, "sha256": content_hash(recipe, state)}
        for key, value in changes.items():
            if key == "drop_recipe_method":
                del payload["recipe"]["method"]
            else:
                payload[key] = value
        return payload
    return build


def _plain_weights() -> dict[str, Any]:
    """A torch state dict without galssl's format, recipe or hash."""
    import torch

    return {"weight": torch.zeros(2)}


def image(pixels: np.ndarray, n_channels: int) -> Runner:
    """A PNG with these pixels read as a display image with ``n_channels`` bands."""
    def run(inputs: Path, work: Path) -> Outcome:
        path = inputs / "g1.png"
        Image.fromarray(pixels).save(path)
        return _caught(lambda: read_display_image(path, "g1.png", "g1", n_channels))
    return run


def _shard(folder: Path, damage: str) -> Path:
    """A three-object, one-band 8 x 8 px shard, damaged: 'truncated' file, 'short' image blob, image_shape metadata
    'unparseable', 'two numbers' or 'missing'; or rewritten keeping its metadata with one pixel of g1 'edited' or
    its first row 'dropped'; or 're-saved with pandas'."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from galssl.shards import ShardRow, shard_schema, write_shard

    schema = shard_schema(["g"], 8, 0.4)
    metadata = dict(schema.metadata)
    if damage in ("unparseable", "two numbers", "missing"):
        metadata.pop(b"galssl.image_shape")
        if damage != "missing":
            metadata[b"galssl.image_shape"] = b"[1, 8" if damage == "unparseable" else json.dumps([8, 8]).encode()
    side = 5 if damage == "short" else 8
    rows = [ShardRow(f"g{i}", 10.0 + i, 1.0, "mine", "train", np.ones((1, side if i else 8, side if i else 8)),
                     np.zeros(1), np.ones(1), np.zeros(1), np.ones(1)) for i in range(3)]
    if damage == "nan pixels":
        rows[1].image[0, 3, 4] = NAN
    path = folder / "shards" / "shard-000.parquet"
    write_shard(path, rows, schema.with_metadata(metadata))
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-200])
    table = pq.read_table(path) if damage in ("edited", "dropped") else None
    if damage == "edited":  # still parses, same metadata: only the content hash can tell
        images = table.column("image").to_pylist()
        pixels = np.frombuffer(images[1], np.float32).copy()
        pixels[12] = 2.0
        images[1] = pixels.tobytes()
        pq.write_table(table.set_column(table.schema.get_field_index("image"), "image", pa.array(images, pa.binary())),
                       path)
    if damage == "dropped":
        pq.write_table(table.slice(1), path)
    if damage == "re-saved with pandas":
        pd.read_parquet(path).to_parquet(path)
    failures = folder / "failures" / "shard-000.parquet"
    failures.parent.mkdir()
    pd.DataFrame({"object_id": pd.Series([], dtype=str), "reason": pd.Series([], dtype=str),
                  "attempts": pd.Series([], dtype="int64")}).to_parquet(failures)
    return path


def shard(damage: str, reader: str) -> Runner:
    """A damaged shard through one reader: 'images' (read_images), 'images of g1' (read_images_for), 'dataset'
    (ShardDataset), 'api' (galssl.api.read_shards), 'manifest' (write_manifest into the output folder) or 'cli'
    (`galssl ingest-manifest` into the output folder)."""
    def run(inputs: Path, work: Path) -> Outcome:
        from galssl.api import read_shards
        from galssl.data import ShardDataset
        from galssl.ingest import SurveySpec, write_manifest
        from galssl.shards import read_images, read_images_for

        path = _shard(inputs, damage)
        failures = str(inputs / "failures" / "shard-000.parquet")
        if reader == "images":
            return _caught(lambda: read_images(path))
        if reader == "images of g1":
            return _caught(lambda: read_images_for([str(path)], ["g1"]))
        if reader == "api":
            return _caught(lambda: read_shards(path))
        if reader == "dataset":
            return _caught(lambda: list(ShardDataset([path])))
        if reader == "manifest":
            spec = SurveySpec("mine", "mock", ["g"], 0.4, 8, "interp")
            return _caught(lambda: write_manifest(spec, [str(path)], [failures], str(work / "manifest.json"),
                                                  str(work / "failures.parquet"), "hash"))
        survey = '{"provider": "mock", "bands": ["g"], "pixel_scale_arcsec": 0.4, "cutout_size": 8}'
        result = subprocess.run([str(BIN / "galssl"), "ingest-manifest", "--survey", "mine", "--survey-config",
                                 survey, "--seed", "1", "--shards", str(path), "--failures", failures,
                                 "--manifest-out", str(work / "manifest.json"), "--failures-out",
                                 str(work / "failures.parquet")], cwd=work, capture_output=True, text=True,
                                timeout=120, check=False)
        assert not result.stdout
        return f"exit {result.returncode}", result.stderr
    return run


def embed(damage: str) -> Runner:
    """`embed_with_manifest` (what `galssl embed` runs) of a shard whose object g1 has a NaN pixel, into the output
    folder; with 'all' the encoder itself answers NaN; with 'edited' a pixel of g1 changed after ingest."""
    def run(inputs: Path, work: Path) -> Outcome:
        import json

        import torch

        from galssl.embed import embed_with_manifest

        path = _shard(inputs, {"pixels": "nan pixels", "edited": "edited"}.get(damage, "none"))
        manifest = inputs / "manifest.json"
        manifest.write_text(json.dumps({"bands": ["g"], "image_shape": [1, 8, 8], "image_unit": "nanomaggy",
                                        "band_statistics": {"g": {"sky_mad": 0.1, "sky_median": 0.0}}}))

        def encode(images: torch.Tensor) -> torch.Tensor:
            vectors = images.flatten(1).sum(1, keepdim=True).repeat(1, 4)  # NaN where any pixel is NaN
            return vectors * np.nan if damage == "all" else vectors
        return _caught(lambda: embed_with_manifest(str(manifest), [str(path)], encode, 8, "simclr",
                                                   str(work / "embeddings.parquet")))
    return run


def weights(content: Callable[[Path], None]) -> Runner:
    """A resnet18 encoder (timm) with weights from ``enc.safetensors`` holding what ``content`` writes there."""
    def run(inputs: Path, work: Path) -> Outcome:
        from galssl.checkpoint import timm_encoder

        path = inputs / "enc.safetensors"
        content(path)
        return _caught(lambda: timm_encoder("resnet18", 3, 32, str(path)))
    return run


def _pickled_weights(path: Path) -> None:
    import torch

    torch.save(_plain_weights(), path)


def mock_server_on_a_taken_port(inputs: Path, work: Path) -> Outcome:
    """`galssl mock-server --port N` while another socket listens on N (exit 1 at once, never serving)."""
    import socket

    path = inputs / "config.yaml"
    path.write_text(MINIMAL + "mock: {n_objects: 20}\n", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([str(BIN / "galssl"), "mock-server", "--config", str(path), "--port", str(port)],
                                cwd=work, capture_output=True, text=True, timeout=120, check=False)
    assert not result.stdout
    return f"exit {result.returncode}", re.sub(rf"\b{port}\b", "PORT", result.stderr)


def display_bands(bands: list[str]) -> Runner:
    return lambda inputs, work: _caught(lambda: check_display_bands(bands, "surveys.mine.bands"))


_YY, _XX = np.mgrid[0:32, 0:32]
_BLOB = np.clip(20 + 200 * np.exp(-((_YY - 16) ** 2 + (_XX - 13) ** 2) / 50.0), 0, 255).astype(np.uint8)
GREY = _BLOB
COLOUR = np.stack([_BLOB, _BLOB // 2, _BLOB // 4], -1)

MINIMAL = "seed: 1\nsurveys:\n  sdss: {provider: mock, instrument: sdss, bands: [g, r], pixel_scale_arcsec: 0.396}\n"
LEGACY = {"provider": "legacy", "bands": ["g", "r", "z"], "pixel_scale_arcsec": 0.262}
EUCLID = {"provider": "euclid", "bands": ["VIS"], "pixel_scale_arcsec": 0.1}
FILES = {"provider": "files", "format": "image", "path": "imgs", "pixel_scale_arcsec": 0.4}
ALLOWED = "(allowed:"

# --- the table ---------------------------------------------------------------------------------------------------

CASES: list[Bad] = [
    # Non-finite numbers anywhere (YAML .nan, .inf, -.inf).
    Bad("inf pixel scale", config(("surveys.sdss.pixel_scale_arcsec", INF)), "ConfigError",
        "surveys.sdss.pixel_scale_arcsec must be a finite number (got .inf)", "write an ordinary number"),
    Bad("nan learning rate", config(("pretrain.lr", NAN)), "ConfigError",
        "pretrain.lr must be a finite number (got .nan)", "write an ordinary number"),
    Bad("-inf in a list", config(("mock.gallery.redshifts", [0.03, -INF])), "ConfigError",
        "mock.gallery.redshifts[1] must be a finite number (got -.inf)", "write an ordinary number"),
    Bad("nan split", config(("catalog.split.val", NAN)), "ConfigError",
        "catalog.split.val must be a finite number (got .nan)", "write an ordinary number"),
    Bad("inf object count", config(("mock.n_objects", INF)), "ConfigError",
        "mock.n_objects must be a finite number (got .inf)", "write an ordinary number"),
    Bad("nan augmentation range", config(("pretrain.augment.noise", {"scale": [1.0, NAN]})), "ConfigError",
        "pretrain.augment.noise.scale[1]", "write an ordinary number"),
    Bad("nan method setting", config(("pretrain.method_config.moco.temperature", NAN)), "ConfigError",
        "pretrain.method_config.moco.temperature", "write an ordinary number"),
    Bad("inf timeout", survey("legacy", **LEGACY, timeout_s=INF), "ConfigError", "surveys.legacy.timeout_s",
        "write an ordinary number"),
    Bad("nan photo-z rate", config(("photoz.lr", NAN)), "ConfigError", "photoz.lr", "write an ordinary number"),
    Bad("inf file", config_file(MINIMAL + "pretrain: {lr: .inf}\n"), "ConfigError",
        "pretrain.lr must be a finite number (got .inf)", "write an ordinary number"),
    # Sizes that allocate memory have an upper bound.
    Bad("huge cutout", config(("surveys.sdss.cutout_size", 1_000_000_000)), "ConfigError",
        "surveys.sdss.cutout_size", "must be <= 4096 (got 1000000000)"),
    Bad("huge pretrain batch", config(("pretrain.batch_size", 10**9)), "ConfigError", "pretrain.batch_size",
        "must be <= 65536"),
    Bad("huge embed batch", config(("embed.batch_size", 10**7)), "ConfigError", "embed.batch_size",
        "must be <= 65536"),
    Bad("huge finetune batch", config(("finetune.batch_size", 10**7)), "ConfigError", "finetune.batch_size",
        "must be <= 65536"),
    Bad("huge SAE batch", config(("maps.sae.batch_size", 10**7)), "ConfigError", "maps.sae.batch_size",
        "must be <= 65536"),
    Bad("huge method batch", config(("pretrain.method_config.simclr", {"batch_size": 10**6})), "ConfigError",
        "pretrain.method_config.simclr.batch_size", "must be <= 65536"),
    Bad("huge mock sky", config(("mock.n_objects", 10**9)), "ConfigError", "mock.n_objects",
        "must be <= 1000000"),
    Bad("huge gallery stamp", config(("mock.gallery.size_px", 100_000)), "ConfigError", "mock.gallery.size_px",
        "must be <= 1024"),
    Bad("huge shard", config(("ingest.shard_size", 10**7)), "ConfigError", "ingest.shard_size",
        "must be <= 100000"),
    Bad("shard beyond memory", config(("surveys.sdss.cutout_size", 4096)), "ConfigError",
        "ingest.shard_size 500 x 5 bands x 4096^2 px", "lower ingest.shard_size to <= 12"),
    Bad("huge probe set", config(("pretrain.probe_train_size", 10**8)), "ConfigError",
        "pretrain.probe_train_size", "must be <= 100000"),
    Bad("huge external crop", config(("embed.external", {"big": {"timm": "resnet18", "crop": 100_000}})),
        "ConfigError", "embed.external.big.crop", "must be <= 4096"),
    Bad("huge GalaxAlign input", config(("pretrain.method_config.galaxalign.input_size", 10**6)), "ConfigError",
        "pretrain.method_config.galaxalign.input_size", "must be <= 4096"),
    Bad("huge MoCo queue", config(("pretrain.method_config.moco.queue_size", 10**9)), "ConfigError",
        "pretrain.method_config.moco.queue_size", "must be <= 1000000"),
    # The jitter crop fits every cutout; splits that stages read are not empty.
    Bad("crop larger than cutout", config(("surveys.sdss.cutout_size", 32),
                                          ("pretrain.augment.jitter_crop", {"crop_size": 64, "max_shift": 4})),
        "ConfigError", "surveys.sdss.cutout_size (32 px)", "lower crop_size to <= 24"),
    Bad("crop and shift overflow", config(("pretrain.augment.jitter_crop", {"crop_size": 60, "max_shift": 4})),
        "ConfigError", "pretrain.augment.jitter_crop (crop_size 60 + 2 x max_shift 4 = 68 px)",
        "raise cutout_size to >= 68"),
    Bad("default crop on small cutouts", config(("surveys.sdss.cutout_size", 48), drop="pretrain.augment.jitter_crop"),
        "ConfigError", "the defaults: pretrain.augment.jitter_crop is not set", "lower crop_size to <= 40"),
    Bad("crop too big for a second survey", survey("legacy", **LEGACY, cutout_size=40), "ConfigError",
        "surveys.legacy.cutout_size (40 px)", "lower crop_size to <= 32"),
    Bad("negative crop", config(("pretrain.augment.jitter_crop.crop_size", -5)), "ConfigError",
        "pretrain.augment.jitter_crop.crop_size must be an integer >= 8 (got -5)", "at least 8 px"),
    Bad("crop below 8 px", config(("pretrain.augment.jitter_crop.crop_size", 4)), "ConfigError",
        "pretrain.augment.jitter_crop.crop_size", "must be an integer >= 8"),
    Bad("fractional crop", config(("pretrain.augment.jitter_crop.crop_size", 40.5)), "ConfigError",
        "pretrain.augment.jitter_crop.crop_size", "must be an integer"),
    Bad("negative shift", config(("pretrain.augment.jitter_crop.max_shift", -1)), "ConfigError",
        "pretrain.augment.jitter_crop.max_shift", "must be an integer >= 0"),
    Bad("no validation split", config(("catalog.split", {"train": 1.0, "val": 0.0, "test": 0.0})), "ConfigError",
        "catalog.split.val must be > 0 (got 0.0)", "give it a share such as 0.1"),
    Bad("no test split", config(("catalog.split", {"train": 0.9, "val": 0.1, "test": 0.0})), "ConfigError",
        "catalog.split.test must be > 0", "give it a share such as 0.2"),
    Bad("no train split", config(("catalog.split", {"train": 0.0, "val": 0.5, "test": 0.5})), "ConfigError",
        "catalog.split.train must be > 0", "give it a share such as 0.7"),
    Bad("train only", config(("catalog.split", {"train": 1.0})), "ConfigError", "catalog.split",
        "must sum to 1"),
    # Closed key sets inside pretrain.augment and pretrain.method_config.
    Bad("augmentation typo", config(("pretrain.augment.rotaton", True)), "ConfigError",
        "pretrain.augment.rotaton is not an augmentation", "(allowed: rotation, jitter_crop"),
    Bad("crop key typo", config(("pretrain.augment.jitter_crop", {"crop_sise": 40})), "ConfigError",
        "pretrain.augment.jitter_crop.crop_sise", "(allowed: crop_size, max_shift)"),
    Bad("flip typo", config(("pretrain.augment.rotation", {"flp": False})), "ConfigError",
        "pretrain.augment.rotation.flp", "(allowed: flip)"),
    Bad("blur key typo", config(("pretrain.augment.psf_blur", {"sigma": [0, 1]})), "ConfigError",
        "pretrain.augment.psf_blur.sigma", "(allowed: sigma_px, wavelength_exponent)"),
    Bad("reversed noise range", config(("pretrain.augment.noise", {"scale": [3, 1]})), "ConfigError",
        "pretrain.augment.noise.scale", "must be [low, high] with low <= high"),
    Bad("augmentation as a number", config(("pretrain.augment.noise", 5)), "ConfigError",
        "pretrain.augment.noise", "must be a mapping, true, false or null"),
    Bad("flip as text", config(("pretrain.augment.rotation", {"flip": "no"})), "ConfigError",
        "pretrain.augment.rotation.flip", "must be true or false"),
    Bad("augment not a mapping", config(("pretrain.augment", [1, 2])), "ConfigError", "pretrain.augment",
        "must be a mapping of keys to values"),
    Bad("MoCo typo", config(("pretrain.method_config.moco.temprature", 0.2)), "ConfigError",
        "unknown key 'temprature' in pretrain.method_config.moco", "temperature"),
    Bad("SimCLR typo", config(("pretrain.method_config.simclr", {"projection_dims": 64})), "ConfigError",
        "pretrain.method_config.simclr", "(allowed: backbone, backbone_kwargs, batch_size, epochs, lr"),
    Bad("MAE typo", config(("pretrain.method_config.mae.mask_ration", 0.5)), "ConfigError",
        "unknown key 'mask_ration' in pretrain.method_config.mae", "mask_ratio, mask_seed"),
    Bad("supervised typo", config(("pretrain.method_config.supervised", {"n_class": 3})), "ConfigError",
        "unknown key 'n_class' in pretrain.method_config.supervised", "n_classes"),
    Bad("GalaxAlign typo", config(("pretrain.method_config.galaxalign.init_temprature", 0.1)), "ConfigError",
        "pretrain.method_config.galaxalign", "init_temperature"),
    Bad("GalaxAlign stage epochs", config(("pretrain.method_config.galaxalign_stage2", {"epochs": 3})),
        "ConfigError", "unknown key 'epochs' in pretrain.method_config.galaxalign_stage2", "stage2_epochs"),
    Bad("unknown method section", config(("pretrain.method_config.byol", {})), "ConfigError",
        "unknown key 'byol' in pretrain.method_config", "(allowed: galaxalign"),
    Bad("mask ratio of one", config(("pretrain.method_config.mae.mask_ratio", 1.0)), "ConfigError",
        "pretrain.method_config.mae.mask_ratio", "must be < 1"),
    Bad("tiny SimCLR temperature", config(("pretrain.method_config.simclr", {"temperature": 0.001})), "ConfigError",
        "pretrain.method_config.simclr.temperature", "must be >= 0.01"),
    Bad("unknown momentum schedule", config(("pretrain.method_config.moco.momentum_schedule", "linear")),
        "ConfigError", "pretrain.method_config.moco.momentum_schedule", "must be one of cosine, fixed"),
    Bad("unknown supervised target", config(("pretrain.method_config.supervised", {"target": "vote"})),
        "ConfigError", "pretrain.method_config.supervised.target", "must be one of class, votes"),
    Bad("fractional queue", config(("pretrain.method_config.moco.queue_size", 1.5)), "ConfigError",
        "pretrain.method_config.moco.queue_size", "must be an integer"),
    # Credentials in survey URLs; an empty method list.
    Bad("Euclid password in URL", survey("euclid", **EUCLID, base_url="https://bob:s3cret@eas.esac.esa.int/"),
        "ConfigError", "surveys.euclid.base_url holds a user name or password (https://***@eas.esac.esa.int/)",
        "set GALSSL_EUCLID_USER and GALSSL_EUCLID_PASSWORD"),
    Bad("Legacy password in URL", survey("legacy", **LEGACY, base_url="https://bob:s3cret@legacysurvey.org"),
        "ConfigError", "surveys.legacy.base_url", "remove it (provider legacy reads no login)"),
    Bad("SDSS user in URL", survey("sdss_dr17", provider="sdss", bands=["r"], pixel_scale_arcsec=0.396,
                                   skyserver_url="https://bob@skyserver.sdss.org"),
        "ConfigError", "surveys.sdss_dr17.skyserver_url", "remove it (provider sdss reads no login)"),
    Bad("no methods", config(("pretrain.methods", [])), "ConfigError", "pretrain.methods is empty (got [])",
        "e.g. methods: [simclr]"),
    # Config files: duplicate keys, binary files, YAML that does not parse.
    Bad("duplicate top-level key", config_file(MINIMAL + "seed: 2\n"), "ConfigError",
        "line 4: duplicate key 'seed' (first at line 1", "delete one of them"),
    Bad("duplicate nested key", config_file(MINIMAL + "pretrain:\n  lr: 0.001\n  epochs: 3\n  lr: 0.01\n"),
        "ConfigError", "line 7: duplicate key 'pretrain.lr' (first at line 5", "delete one of them"),
    Bad("duplicate key in a flow mapping", config_file(
        MINIMAL + "pretrain:\n  augment:\n    jitter_crop: {crop_size: 40, crop_size: 24}\n"), "ConfigError",
        "duplicate key 'pretrain.augment.jitter_crop.crop_size'", "delete one of them"),
    Bad("duplicate survey", config_file(MINIMAL + "  sdss: {provider: legacy, bands: [g], pixel_scale_arcsec: 1}\n"),
        "ConfigError", "duplicate key 'surveys.sdss'", "delete one of them"),
    Bad("binary file", config_file(bytes(range(128, 256)) * 4), "ConfigError",
        "is not a UTF-8 text file (byte 0x80 at offset 0)", "give a YAML config file"),
    Bad("PNG as config", config_file(b"\x89PNG\r\n\x1a\n" + bytes(32)), "ConfigError",
        "is not a UTF-8 text file (byte 0x89", "give a YAML config file"),
    Bad("NUL byte", config_file("seed: 1\x00\n"), "ConfigError",
        "is not a text file (control character 0x00 at offset 7)", "give a YAML config file"),
    Bad("broken YAML", config_file("seed: 42\nmock: [unclosed\n"), "ConfigError", "is not valid YAML at line 3",
        "(expected ',' or ']'"),
    Bad("list as config", config_file("- seed: 1\n"), "ConfigError", "the config",
        "must be a mapping of keys to values"),
    Bad("empty config", config_file(""), "ConfigError", "the config", "must be a mapping of keys to values (got null)"),
    Bad("missing config", lambda inputs, work: _caught(lambda: load_config(inputs / "nope.yaml")), "ConfigError",
        "config file", "not found"),
    # The same through the command line (exit 1, one line on stderr).
    Bad("cli: binary file", cli(bytes(range(200, 256)) * 8), "exit 1", "is not a UTF-8 text file",
        "give a YAML config file"),
    Bad("cli: duplicate key", cli(MINIMAL + "surveys: {}\n"), "exit 1", "duplicate key 'surveys'",
        "delete one of them"),
    Bad("cli: inf pixel scale", cli(MINIMAL.replace("0.396", ".inf")), "exit 1",
        "surveys.sdss.pixel_scale_arcsec must be a finite number (got .inf)", "write an ordinary number"),
    Bad("cli: crop on small cutouts", cli(MINIMAL.replace("0.396}", "0.396, cutout_size: 32}")), "exit 1",
        "surveys.sdss.cutout_size (32 px)", "lower crop_size to <= 24"),
    Bad("cli: password in URL", cli(MINIMAL + "  euclid: {provider: euclid, bands: [VIS], pixel_scale_arcsec: 0.1, "
                                              "base_url: 'https://me:pw@eas.esac.esa.int'}\n"),
        "exit 1", "surveys.euclid.base_url", "GALSSL_EUCLID_PASSWORD"),
    # The workflow itself, before any job: duplicate keys in the --configfile, nothing left to train.
    Bad("snakemake: duplicate key", snakemake(MINIMAL + "pretrain: {epochs: 1}\npretrain: {epochs: 2}\n"), "exit 1",
        "duplicate key 'pretrain' (first at line 4", "delete one of them"),
    Bad("snakemake: only class methods, no classes", snakemake(
        MINIMAL + "labels: {class_column: null}\npretrain: {methods: [supervised]}\nexplorer: {embedding: null}\n"),
        "exit 1", "pretrain.methods lists only supervised", "add a self-supervised method such as simclr"),
    Bad("snakemake: no validation split", snakemake(MINIMAL + "catalog: {split: {train: 0.8, val: 0, test: 0.2}}\n"),
        "exit 1", "catalog.split.val must be > 0", "give it a share such as 0.1"),
    # Unknown keys at every depth of the schema.
    Bad("unknown top-level key", config(("sed", 1)), "ConfigError", "unknown key 'sed' at top level", ALLOWED),
    Bad("catalog typo", config(("catalog.id_col", "x")), "ConfigError", "unknown key 'id_col' in catalog", ALLOWED),
    Bad("split name typo", config(("catalog.split.trian", 0.7)), "ConfigError", "in catalog.split", ALLOWED),
    Bad("mock typo", config(("mock.colour", "red")), "ConfigError", "unknown key 'colour' in mock", ALLOWED),
    Bad("mock patch typo", config(("mock.patch.ra", 1.0)), "ConfigError", "in mock.patch", ALLOWED),
    Bad("cosmology typo", config(("mock.cosmology.h0", 70)), "ConfigError", "in mock.cosmology", ALLOWED),
    Bad("unknown Galaxy10 class", config(("mock.class_fractions.spiral", 0.1)), "ConfigError",
        "in mock.class_fractions", "barred_spiral"),
    Bad("survey key typo", config(("surveys.sdss.pixelscale", 0.4)), "ConfigError", "in surveys.sdss", ALLOWED),
    Bad("ingest typo", config(("ingest.shardsize", 10)), "ConfigError", "in ingest", ALLOWED),
    Bad("pretrain typo", config(("pretrain.epoch", 3)), "ConfigError", "unknown key 'epoch' in pretrain", ALLOWED),
    Bad("embed typo", config(("embed.batchsize", 3)), "ConfigError", "in embed", ALLOWED),
    Bad("pixels_pca typo", config(("embed.pixels_pca.components", 3)), "ConfigError", "in embed.pixels_pca",
        ALLOWED),
    Bad("external encoder typo", config(("embed.external", {"r18": {"timm": "resnet18", "weight": "x"}})),
        "ConfigError", "in embed.external.r18", ALLOWED),
    Bad("label efficiency typo", config(("probes.label_efficiency.seed", 1)), "ConfigError",
        "in probes.label_efficiency", ALLOWED),
    Bad("photoz typo", config(("photoz.bins", 10)), "ConfigError", "in photoz", ALLOWED),
    Bad("maps SAE typo", config(("maps.sae.topk", 4)), "ConfigError", "in maps.sae", ALLOWED),
    Bad("maps UMAP typo", config(("maps.umap.neighbours", 4)), "ConfigError", "in maps.umap", ALLOWED),
    Bad("search typo", config(("search.nprobes", 4)), "ConfigError", "in search", ALLOWED),
    Bad("finetune typo", config(("finetune.lr", 0.1)), "ConfigError", "in finetune", ALLOWED),
    Bad("explorer typo", config(("explorer.colour", "x")), "ConfigError", "in explorer", ALLOWED),
    Bad("labels typo", config(("labels.class_col", "x")), "ConfigError", "in labels", ALLOWED),
    # Wrong types.
    Bad("quoted seed", config(("seed", "42")), "ConfigError", "seed", "must be an integer (got '42')"),
    Bad("fractional cutout", config(("surveys.sdss.cutout_size", 64.5)), "ConfigError", "surveys.sdss.cutout_size",
        "must be an integer (got 64.5)"),
    Bad("bands as text", config(("surveys.sdss.bands", "ugriz")), "ConfigError", "surveys.sdss.bands",
        "must be a list"),
    Bad("methods as text", config(("pretrain.methods", "simclr")), "ConfigError", "pretrain.methods",
        "must be a list"),
    Bad("epochs as text", config(("pretrain.epochs", "ten")), "ConfigError", "pretrain.epochs",
        "must be an integer"),
    Bad("learning rate as text", config(("pretrain.lr", "fast")), "ConfigError", "pretrain.lr", "must be a number"),
    Bad("catalogue path as number", config(("catalog.path", 5)), "ConfigError", "catalog.path",
        "must be a string or null"),
    Bad("mock section null", config(("mock", None)), "ConfigError", "mock", "must be a mapping of keys to values"),
    Bad("pretrain as text", config(("pretrain", "moco")), "ConfigError", "pretrain",
        "must be a mapping of keys to values"),
    Bad("boolean thumbnail size", config(("explorer.thumbnail_px", True)), "ConfigError", "explorer.thumbnail_px",
        "must be an integer"),
    # Values outside their enum.
    Bad("misspelt provider", config(("surveys.sdss.provider", "sdds")), "ConfigError", "surveys.sdss.provider",
        "must be one of mock, legacy, sdss, euclid, hips, files"),
    Bad("unknown reprojection", config(("ingest.reproject", "cubic")), "ConfigError", "ingest.reproject",
        "must be one of interp, adaptive, exact"),
    Bad("unknown labels instrument", config(("mock.labels_instrument", "hst")), "ConfigError",
        "mock.labels_instrument", "must be one of sdss, legacy, euclid"),
    Bad("unknown mock instrument", config(("surveys.sdss.instrument", "hst")), "ConfigError",
        "surveys.sdss.instrument", "must be one of sdss, legacy, euclid"),
    Bad("unknown method", config(("pretrain.methods", ["simclr", "byol"])), "ConfigError", "pretrain.methods[1]",
        "must be one of moco, simclr, mae"),
    Bad("unknown finetune task", config(("finetune.tasks", ["classes", "morphology"])), "ConfigError",
        "finetune.tasks[1]", "must be one of classes, photoz"),
    Bad("unknown index", config(("search.approximate_index", "flat")), "ConfigError", "search.approximate_index",
        "must be one of ivf, hnsw"),
    Bad("unknown UMAP metric", config(("maps.umap.metric", "manhattan")), "ConfigError", "maps.umap.metric",
        "must be one of cosine, euclidean, correlation"),
    Bad("unknown sprite format", config(("explorer.thumbnail_format", "gif")), "ConfigError",
        "explorer.thumbnail_format", "must be one of png, jpeg"),
    Bad("unknown catalogue source", config(("catalog.source", "db")), "ConfigError", "catalog.source",
        "must be one of mock, file"),
    Bad("unknown Euclid environment", survey("euclid", **EUCLID, euclid_environment="TEST"), "ConfigError",
        "surveys.euclid.euclid_environment", "must be one of PDR, IDR, OTF, REG"),
    # Values outside their range, and required keys.
    Bad("negative pixel scale", config(("surveys.sdss.pixel_scale_arcsec", -0.4)), "ConfigError",
        "surveys.sdss.pixel_scale_arcsec", "must be > 0 (got -0.4)"),
    Bad("tiny cutout", config(("surveys.sdss.cutout_size", 4)), "ConfigError", "surveys.sdss.cutout_size",
        "must be >= 8 (got 4)"),
    Bad("zero objects", config(("mock.n_objects", 0)), "ConfigError", "mock.n_objects", "must be >= 1 (got 0)"),
    Bad("fraction above one", config(("mock.star_fraction", 1.5)), "ConfigError", "mock.star_fraction",
        "must be <= 1 (got 1.5)"),
    Bad("dec beyond the pole", config(("mock.patch.dec_center_deg", 95)), "ConfigError", "mock.patch.dec_center_deg",
        "must be <= 90"),
    Bad("ra of 360", config(("mock.patch.ra_center_deg", 360)), "ConfigError", "mock.patch.ra_center_deg",
        "must be < 360"),
    Bad("mask fraction above one", config(("ingest.max_mask_fraction", 1.5)), "ConfigError",
        "ingest.max_mask_fraction", "must be <= 1"),
    Bad("split fraction above one", config(("catalog.split.train", 1.5)), "ConfigError", "catalog.split.train",
        "must be <= 1"),
    Bad("negative seed", config(("seed", -1)), "ConfigError", "seed", "must be >= 0 (got -1)"),
    Bad("missing seed", config(drop="seed"), "ConfigError", "missing required key 'seed'", "at top level"),
    Bad("missing bands", config(drop="surveys.sdss.bands"), "ConfigError", "missing required key 'bands'",
        "in surveys.sdss"),
    Bad("mock survey without instrument", config(drop="surveys.sdss.instrument"), "ConfigError",
        "missing required key 'instrument'", "in surveys.sdss"),
    Bad("survey name with a dash", survey("sdss-dr7", **LEGACY), "ConfigError", "key 'sdss-dr7'",
        "use lowercase letters, digits and '_'"),
    Bad("repeated band", config(("surveys.sdss.bands", ["g", "r", "g"])), "ConfigError", "surveys.sdss.bands",
        "lists 'g' more than once"),
    Bad("no surveys", config(("surveys", {})), "ConfigError", "surveys", "must not be empty"),
    Bad("URL without scheme", survey("legacy", **LEGACY, base_url="legacysurvey.org"), "ConfigError",
        "surveys.legacy.base_url", "must match ^https?://"),
    # Checks across keys.
    Bad("splits not summing to one", config(("catalog.split.train", 0.6)), "ConfigError", "catalog.split",
        "must sum to 1 (got train + val + test = 0.9)"),
    Bad("file catalogue without path", config(("catalog.source", "file")), "ConfigError", "catalog.path",
        "must be set when catalog.source is 'file'"),
    Bad("redshift min above max", config(("mock.redshift.min", 0.5)), "ConfigError", "mock.redshift.min",
        "must be < mock.redshift.max"),
    Bad("all classes zero", config(("mock.class_fractions", {name: 0 for name in
                                                             DEFAULT_CONFIG["mock"]["class_fractions"]})),
        "ConfigError", "mock.class_fractions", "must not all be zero"),
    Bad("stars and artifacts fill the sky", config(("mock.artifact_fraction", 0.97)), "ConfigError",
        "mock.star_fraction + mock.artifact_fraction", "must be < 1"),
    Bad("band the instrument lacks", config(("surveys.sdss.bands", ["g", "r", "y"])), "ConfigError",
        "surveys.sdss.bands has 'y'", "(allowed: u, g, r, i, z)"),
    Bad("more lists visited than built", config(("search.nprobe", 2048)), "ConfigError", "search.nprobe",
        "must be <= search.nlist"),
    Bad("external name clash", config(("embed.external", {"mae": {"timm": "resnet18"}})), "ConfigError",
        "embed.external.mae clashes", "rename it (e.g. mae_external)"),
    Bad("photo-z range reversed", config(("photoz.z_min", 0.5)), "ConfigError", "photoz.z_min",
        "must be < photoz.z_max"),
    Bad("label efficiency reversed", config(("probes.label_efficiency.min_log2", 12)), "ConfigError",
        "probes.label_efficiency.min_log2", "must be <= max_log2"),
    Bad("explorer shows an untrained method", config(("explorer.embedding", "galaxalign")), "ConfigError",
        "explorer.embedding", "galaxalign"),
    Bad("class names without a class column", config(("labels.class_column", None),
                                                     ("labels.class_names", ["spiral", "elliptical"])),
        "ConfigError", "labels.class_names", "name the class column or drop the names"),
    Bad("display bands not filters", survey("mine", **FILES, bands=["r", "g", "b"]), "ConfigError",
        "surveys.mine.bands", "give [red, green, blue]"),
    # Malformed catalogues (normalise_catalog writes nothing).
    Bad("catalogue: unknown file type", catalog("cat.txt", lambda: b"object_id,ra,dec\ng1,1,2\n"), "DataError",
        "cat.txt: unknown file type '.txt'", "(use .csv, .parquet"),
    Bad("catalogue: text as Parquet", catalog("cat.parquet", lambda: b"object_id,ra,dec\ng1,1,2\n"), "DataError",
        "cat.parquet: cannot read as Parquet", "check the file is a valid Parquet table"),
    Bad("catalogue: text as FITS", catalog("cat.fits", lambda: b"SIMPLE  = not FITS" * 20), "DataError",
        "cat.fits: cannot read as FITS", "check the file is a valid FITS table"),
    Bad("catalogue: empty file", catalog("cat.csv", lambda: b""), "DataError", "cat.csv: empty file",
        "give a table with at least one object"),
    Bad("catalogue: header only", catalog("cat.csv", lambda: b"object_id,ra,dec\n"), "DataError",
        "cat.csv: no rows", "give at least one object"),
    Bad("catalogue: missing file", catalog("missing.csv", lambda: b""), "DataError", "missing.csv: file not found",
        "set catalog.path to an existing CSV"),
    Bad("catalogue: missing ra column", catalog("cat.csv", lambda: pd.DataFrame(
        {"object_id": ["a"], "RA_deg": [1.0], "dec": [2.0]})), "DataError", "missing column 'ra'",
        "set catalog.ra_column"),
    Bad("catalogue: did you mean", catalog("cat.csv", lambda: pd.DataFrame(
        {"object_id": ["a"], "RA": [1.0], "dec": [2.0]})), "DataError", "missing column 'ra'", "did you mean 'RA'?"),
    Bad("catalogue: missing id column", catalog("cat.fits", lambda: _frame().rename(columns={"object_id": "OBJID"})),
        "DataError", "missing column 'object_id'", "set catalog.id_column"),
    Bad("catalogue: sexagesimal ra", catalog("cat.csv", lambda: _frame(ra=[10.0, "12h30m", 11.0])), "DataError",
        "non-numeric ra in column 'ra', row 2", "give ra in decimal degrees"),
    Bad("catalogue: NaN coordinates", catalog("cat.csv", lambda: b"object_id,ra,dec\ng1,1,2\ng2,1,\ng3,nan,3\n"),
        "DataError", "2 rows with NaN/inf/missing coordinates", "drop those rows"),
    Bad("catalogue: ra out of range", catalog("cat.fits", lambda: _frame(ra=[1.0, -10.5, 360.0])), "DataError",
        "2 rows with 'ra' outside [0, 360) degrees", "wrap ra into [0, 360)"),
    Bad("catalogue: dec out of range", catalog("cat.csv", lambda: _frame(dec=[0.0, 95.0])), "DataError",
        "1 row with 'dec' outside [-90, 90] degrees", "check catalog.dec_column"),
    Bad("catalogue: duplicate ids", catalog("cat.csv", lambda: _frame(object_id=["g1", "g2", "g1"])), "DataError",
        "1 duplicate id in column 'object_id'", "ids must be unique"),
    Bad("catalogue: ids equal but for case", catalog("cat.parquet", lambda: _frame(object_id=["NGC1", "ngc1"])),
        "DataError", "case-insensitive duplicate id in column 'object_id'", "ids become file names"),
    Bad("catalogue: empty id", catalog("cat.csv", lambda: b"object_id,ra,dec\ng1,1,2\n,1,2\n"), "DataError",
        "1 row with an empty or missing id in column 'object_id'", "give every object an id"),
    Bad("catalogue: float ids", catalog("cat.parquet", lambda: _frame(object_id=[1.0, 2.0**60])), "DataError",
        "column 'object_id' holds ids as floating point numbers", "store the ids as integers or text"),
    Bad("catalogue: one column, two roles", catalog("cat.csv", lambda: _frame(), ra_column="dec"), "ConfigError",
        "catalog.id_column, ra_column and dec_column", "must name three different"),
    Bad("catalogue: labels without positions", catalog("cat.csv", lambda: _frame(),
                                                       labels=pd.DataFrame({"x": [1.0], "morph": ["S"]})),
        "DataError", "missing column 'ra'", "rename its coordinates to ra and dec"),
    Bad("catalogue: empty label table", catalog("cat.csv", lambda: _frame(),
                                                labels=pd.DataFrame({"ra": [], "dec": []})),
        "DataError", "labels table", "give at least one labelled object"),
    *(Bad(f"unsafe id {index}", unsafe_id(bad), "DataError", "1 id in column 'object_id' unsafe as file names",
          "use only letters, digits and . _ + -")
      for index, bad in enumerate(["../escape", "a/b", "has space", ".hidden", "-rf", "x" * 129, "semi;colon",
                                   "star*", "trailing space "])),
    *(Bad(f"id ending with a dot {bad}", unsafe_id(bad), "DataError", f"1 id in column 'object_id' ending with '.' "
          f"(first: {bad!r} in row 3), which Windows strips from file names", "drop the trailing dots")
      for bad in ["g1.", "NGC_1.."]),
    *(Bad(f"reserved id {bad}", unsafe_id(bad), "DataError", f"1 id in column 'object_id' reserved as device names "
          f"on Windows (first: {bad!r} in row 3)", "rename them")
      for bad in ["CON", "nul", "aux.txt", "COM1", "LPT9", "prn.tar.gz"]),
    # Coordinate units (FITS TUNITn, ECSV) and repeated column names.
    Bad("catalogue: ra in metres", catalog("cat.fits", _fits(_frame(), TUNIT2="m")), "DataError",
        "column 'ra' (ra) has unit 'm', which is not an angle", "give ra in degrees or in one of deg, rad, hourangle"),
    Bad("catalogue: ra in hours of time", catalog("cat.fits", _fits(_frame(), TUNIT2="h")), "DataError",
        "(hours of right ascension are 'hourangle')", "give ra in degrees"),
    Bad("catalogue: dec in magnitudes", catalog("cat.ecsv", _ecsv(dec="mag")), "DataError",
        "column 'dec' (dec) has unit 'mag'", "give dec in degrees"),
    Bad("catalogue: dec in pixels", catalog("cat.fits", _fits(_frame(), TUNIT3="pix")), "DataError",
        "column 'dec' (dec) has unit 'pix'", "give dec in degrees"),
    Bad("catalogue: two ra columns in a CSV", catalog("cat.csv", lambda: b"object_id,ra,dec,ra\ng1,1,2,3\n"),
        "DataError", "cat.csv: column 'ra' appears more than once in the header", "rename or drop one of them"),
    Bad("catalogue: two ra columns in FITS", catalog("cat.fits", _fits(_frame().assign(ra2=1.0), TTYPE4="ra")),
        "DataError", "cat.fits: column 'ra' appears more than once", "rename or drop one of them"),
    Bad("catalogue: two ids in Parquet", catalog("cat.parquet", lambda: _parquet_bytes(
        ["object_id", "ra", "dec", "object_id"])), "DataError", "column 'object_id' appears more than once",
        "rename or drop one of them"),
    # Damaged shards: each reader names the shard and how to rebuild it.
    Bad("shard: truncated, manifest", shard("truncated", "manifest"), "DataError",
        "shard-000.parquet: cannot read it as Parquet", "delete it and rerun snakemake (it rebuilds the missing "
        "shard), or run `snakemake --forcerun "),
    Bad("shard: truncated, galssl ingest-manifest", shard("truncated", "cli"), "exit 1",
        "shard-000.parquet: cannot read it as Parquet", "snakemake --forcerun "),
    Bad("shard: truncated, dataset", shard("truncated", "dataset"), "DataError",
        "shard-000.parquet: cannot read it as Parquet", "snakemake --forcerun "),
    Bad("shard: short image blob, read_images", shard("short", "images"), "DataError",
        "shard-000.parquet: the image of 'g1' has 100 bytes, not 256 ([1, 8, 8] float32)", "delete it and rerun"),
    Bad("shard: short image blob, dataset", shard("short", "dataset"), "DataError",
        "the image of 'g1' has 100 bytes, not 256", "snakemake --forcerun "),
    Bad("shard: unparseable image_shape", shard("unparseable", "images"), "DataError",
        "shard-000.parquet: galssl.image_shape metadata is '[1, 8', not [bands, size, size]", "delete it and rerun"),
    Bad("shard: image_shape of two numbers", shard("two numbers", "dataset"), "DataError",
        "galssl.image_shape metadata is '[8, 8]'", "snakemake --forcerun "),
    Bad("shard: image_shape of two numbers, manifest", shard("two numbers", "manifest"), "DataError",
        "galssl.image_shape metadata is '[8, 8]'", "snakemake --forcerun "),
    Bad("shard: no image_shape", shard("missing", "images"), "DataError",
        "shard-000.parquet: not a galssl shard", "give the shards written by `galssl ingest-shard`"),
    Bad("shard: re-saved with pandas, dataset", shard("re-saved with pandas", "dataset"), "DataError",
        "shard-000.parquet: not a galssl shard", "(re-saving a shard with pandas drops it)"),
    # A shard altered after ingest that still parses: its content hash names the row and the rule to rerun.
    *(Bad(f"shard: edited pixel, {reader}", shard("edited", reader), "DataError",
          "shard-000.parquet: content hash mismatch (row 1, object 'g1')",
          "rerun its rule ingest_shard: `snakemake --forcerun ") for reader in ("images", "images of g1", "dataset",
                                                                                "api")),
    Bad("shard: row dropped, dataset", shard("dropped", "dataset"), "DataError",
        "content hash mismatch (the hashes cover 3 rows, the file holds 2)", "rerun its rule ingest_shard"),
    Bad("shard: row dropped, galssl ingest-manifest", shard("dropped", "cli"), "exit 1",
        "content hash mismatch (the hashes cover 3 rows, the file holds 2)", "snakemake --forcerun "),
    Bad("embed: pixel edited after ingest", embed("edited"), "DataError",
        "shard-000.parquet: content hash mismatch (row 1, object 'g1')", "rerun its rule ingest_shard"),
    Bad("embed: NaN pixel in a shard", embed("pixels"), "DataError",
        "embeddings of simclr: 1 object(s) with NaN/inf vectors (first: 'g1')", "`snakemake --forcerun ingest_shard`"),
    Bad("embed: encoder answers NaN", embed("all"), "DataError", "every vector holds NaN/inf (first: 'g0', 'g1', 'g2')",
        "retrain it or check its weights"),
    # External encoder weights that are not what their name says.
    Bad("weights: pickle named .safetensors", weights(_pickled_weights), "DataError",
        "enc.safetensors: not a readable safetensors file", "a pickle must not be named .safetensors"),
    Bad("weights: garbage named .safetensors", weights(lambda path: path.write_bytes(b"\x00garbage" * 20)),
        "DataError", "enc.safetensors: not a readable safetensors file (SafetensorError", "give a file saved with"),
    Bad("mock-server: port taken", mock_server_on_a_taken_port, "exit 1",
        "--port PORT: 127.0.0.1:PORT is already in use", "choose another port, e.g. --port "),
    # Split fractions handed to the catalogue.
    Bad("split: unknown name", split({"train": 0.8, "valid": 0.2}), "ConfigError",
        "catalog.split has unknown split 'valid'", "(allowed: train, val, test)"),
    Bad("split: above one", split({"train": 1.5}), "ConfigError", "catalog.split.train",
        "must be a number in [0, 1] (got 1.5)"),
    Bad("split: NaN", split({"train": NAN, "test": 1.0}), "ConfigError", "catalog.split.train",
        "must be a number in [0, 1]"),
    Bad("split: boolean", split({"train": True}), "ConfigError", "catalog.split.train", "must be a number in [0, 1]"),
    Bad("split: short of one", split({"train": 0.5, "test": 0.4}), "ConfigError", "catalog.split fractions",
        "must sum to 1 (got train + val + test = 0.9)"),
    # Encoder checkpoints.
    Bad("checkpoint: missing", checkpoint(None), "DataError", "encoder.ckpt: file not found",
        "train it first: snakemake"),
    Bad("checkpoint: garbage bytes", checkpoint(b"not a zip file at all" * 10), "DataError",
        "not a readable galssl encoder checkpoint", "delete it and rerun the rule that wrote it"),
    Bad("checkpoint: plain tensor file", checkpoint(_plain_weights), "DataError",
        "not a galssl encoder checkpoint (expected format 'galssl-encoder-v2')", "galssl embed --timm NAME"),
    Bad("checkpoint: no weights", checkpoint(_payload(state_dict=None)), "DataError",
        "has no recipe or no weights", "delete it and rerun"),
    Bad("checkpoint: recipe without method", checkpoint(_payload(drop_recipe_method=True)), "DataError",
        "its recipe lacks method", "delete it and rerun"),
    Bad("checkpoint: hash mismatch", checkpoint(_payload(sha256="0" * 64)), "DataError",
        "content hash mismatch, the file is corrupt", "delete it and rerun"),
    # Display images and their channel names.
    Bad("image: grey for three bands", image(GREY, 3), "FetchError", "g1.png for g1 is a greyscale image",
        "give bands: [grey]"),
    Bad("image: colour for one band", image(COLOUR, 1), "FetchError", "g1.png for g1 is a colour image",
        "bands name 1 greyscale channel"),
    Bad("bands: two channels", display_bands(["r", "g"]), "ConfigError", "surveys.mine.bands",
        "must name the 3 colour channels (or 1 for greyscale)"),
    Bad("bands: not a filter", display_bands(["r", "g", "b"]), "ConfigError", "'b' is not a filter",
        "give [red, green, blue]"),
    Bad("bands: filter twice", display_bands(["r", "r", "g"]), "ConfigError", "a filter is named twice",
        "name each channel by its filter"),
]


def test_the_table_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 120
    assert len({case.id for case in CASES}) == len(CASES)
    assert sum(case.run.__qualname__.startswith("snakemake") for case in CASES) <= 3


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_naming_key_and_fix_and_writes_nothing(case: Bad, tmp_path: Path) -> None:
    inputs, work = tmp_path / "inputs", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    stopped_by, message = case.run(inputs, work)
    assert stopped_by == case.stopped_by, message
    if stopped_by.startswith("exit"):  # a command: exactly one line, galssl's
        assert message.startswith("galssl: error: ") or message.startswith("config error: "), message
    assert "Traceback" not in message
    assert len(message.strip("\n").splitlines()) == 1, message
    assert case.key in message, message
    assert case.fix in message, message
    written = [path.relative_to(work) for path in work.rglob("*")]
    assert written == [], f"{case.id} wrote {written}"
