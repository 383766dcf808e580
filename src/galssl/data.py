"""Streaming shard loading for training and inference: work split, shuffling, labels, normalisation, views.

How work is split. Rows selected by ``splits`` are numbered 0..N-1 in the epoch's shard order (a permutation of
the shards from ``(seed, epoch)`` when shuffling, sorted otherwise; rows in file order within a shard). Rank ``r``
of ``R`` takes the contiguous block ``[r·N//R, (r+1)·N//R)``; DataLoader worker ``w`` of ``W`` takes the same
sub-block of its rank's block. Blocks cover every row exactly once for any number of shards, ranks and workers
(fewer shards than consumers included), consumer sizes differ by at most one, and each consumer reads only the
shards its block overlaps. With ``drop_uneven`` every rank instead takes a block of exactly ``N//R`` rows (the
< R rows at the end of the epoch order are skipped, different ones each epoch), so every rank yields the same
number of samples and — as all ranks share one worker pattern — the same number of batches: DDP never hangs.
N comes from Parquet metadata (plus the small ``split`` column when filtering), never from the images.

Call ``set_epoch`` before creating each epoch's iterator (not with ``persistent_workers``, whose workers keep the
epoch they started with). Augmentations get a ``torch.Generator`` seeded from ``(seed, epoch, object_id)``, so
they do not depend on ranks, workers or shuffling.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from galssl.display import manifest_is_display
from galssl.errors import ConfigError, DataError
from galssl.shards import decode_image, image_shape, row_hashes, shard_error

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor | dict[str, Any]]
Normalise = Callable[[torch.Tensor], torch.Tensor]


def load_manifest(path: str | os.PathLike) -> dict:
    """Read a dataset manifest (``results/<survey>/manifest.json``, written by ``galssl ingest-manifest``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError as error:
        raise DataError(f"manifest {path} not found: run the ingest step for this survey first") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"manifest {path} is not valid JSON ({error})") from error
    if not isinstance(manifest, dict):
        raise DataError(f"manifest {path} must hold a JSON object, not {type(manifest).__name__}")
    for key in ("bands", "image_shape", "band_statistics"):
        if key not in manifest:
            raise DataError(f"manifest {path} has no {key!r} field: rerun the ingest step")
    return manifest


def shard_paths(results_dir: str | os.PathLike, survey: str) -> list[str]:
    """Sorted paths of ``<results_dir>/<survey>/shards/shard-*.parquet``; a DataError when there are none."""
    paths = sorted(glob.glob(os.path.join(os.fspath(results_dir), survey, "shards", "shard-*.parquet")))
    if not paths:
        raise DataError(f"no shards in {os.path.join(os.fspath(results_dir), survey, 'shards')}: run the ingest step")
    return paths


def band_statistic(manifest: dict, key: str) -> list[float]:
    """The dataset-wide ``band_statistics[band][key]`` of every band of a manifest, in band order."""
    try:
        values = [manifest["band_statistics"][band][key] for band in manifest["bands"]]
    except (KeyError, TypeError) as error:
        raise DataError(f"manifest has no band_statistics.<band>.{key} for every band ({error})") from error
    if any(value is None for value in values):
        raise DataError(f"manifest {key} is missing for some band (bands {manifest['bands']}, got {values}); "
                        "was the dataset empty?")
    return values


class AsinhNormalise:
    """Per-band asinh stretch x → asinh(x / (softening · sky_mad_b)), x in flux units (e.g. nanomaggies).

    Linear within a few sky-noise units (faint outskirts keep their noise-scaled contrast) and logarithmic beyond
    (bright cores do not dominate) — Lupton et al. (1999) magnitudes without the zero point.
    """

    def __init__(self, sky_mad: Sequence[float], softening: float = 3.0) -> None:
        scale = np.asarray(sky_mad, dtype=np.float64) * float(softening)
        if scale.ndim != 1 or scale.size == 0 or not np.all(np.isfinite(scale)) or not np.all(scale > 0):
            raise ConfigError(f"asinh normalisation needs softening > 0 and one finite sky_mad > 0 per band "
                              f"(got softening={softening}, sky_mad={list(sky_mad)})")
        self.sky_mad = tuple(float(value) for value in sky_mad)
        self.softening = float(softening)
        self._scale = torch.as_tensor(scale, dtype=torch.float32).view(-1, 1, 1)

    @classmethod
    def from_manifest(cls, manifest: dict, softening: float = 3.0) -> AsinhNormalise:
        """Use the dataset-wide median ``sky_mad`` of each band (``band_statistics[band]['sky_mad']``)."""
        return cls(band_statistic(manifest, "sky_mad"), softening)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """(C, H, W) or (B, C, H, W) flux image → stretched float32 image of the same shape."""
        if image.shape[-3] != self._scale.shape[0]:
            raise DataError(f"image has {image.shape[-3]} bands but the normalisation knows {self._scale.shape[0]}")
        return torch.asinh(image / self._scale.to(image.device))


class DisplayNormalise:
    """Per-channel affine map of display values (0-255) x → (x / 255 - sky_b / 255) / scale.

    The background of each channel (its manifest ``sky_median``) goes to 0 and full white to about 1 / scale (5 by
    default): the range the asinh normalisation gives flux images (sky 0, bright cores a few units), so encoders and
    their learning rates behave alike on both kinds of data. No stretch: a display image is already stretched.
    """

    def __init__(self, sky_median: Sequence[float], scale: float = 0.2) -> None:
        offset = np.asarray(sky_median, dtype=np.float64) / 255.0
        if offset.ndim != 1 or offset.size == 0 or not np.all(np.isfinite(offset)) or not float(scale) > 0:
            raise ConfigError(f"display normalisation needs scale > 0 and one finite sky_median per channel "
                              f"(got scale={scale}, sky_median={list(sky_median)})")
        self.sky_median = tuple(float(value) for value in sky_median)
        self.scale = float(scale)
        self._offset = torch.as_tensor(offset, dtype=torch.float32).view(-1, 1, 1)

    @classmethod
    def from_manifest(cls, manifest: dict, scale: float = 0.2) -> DisplayNormalise:
        """Use the dataset-wide median ``sky_median`` of each channel (``band_statistics[band]['sky_median']``)."""
        return cls(band_statistic(manifest, "sky_median"), scale)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """(C, H, W) or (B, C, H, W) display image on 0-255 → float32 image of the same shape."""
        if image.shape[-3] != self._offset.shape[0]:
            raise DataError(f"image has {image.shape[-3]} channels but the normalisation knows {self._offset.shape[0]}")
        return (image / 255.0 - self._offset.to(image.device)) / self.scale


def normaliser_from_manifest(manifest: dict) -> AsinhNormalise | DisplayNormalise:
    """The encoders' input normalisation for a dataset: display images (manifest ``image_unit`` starting with
    "display") get :class:`DisplayNormalise`, flux images :class:`AsinhNormalise`."""
    return (DisplayNormalise if manifest_is_display(manifest) else AsinhNormalise).from_manifest(manifest)


def sample_generator(seed: int, epoch: int, object_id: str) -> torch.Generator:
    """A CPU generator seeded from (seed, epoch, object_id) with BLAKE2b (stable across processes and runs)."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{object_id}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


def centre_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` × ``size`` pixels of a (..., H, W) image."""
    height, width = image.shape[-2:]
    if size > min(height, width):
        raise ConfigError(f"crop size {size} is larger than the {height}x{width} image")
    top, left = (height - size) // 2, (width - size) // 2
    return image[..., top:top + size, left:left + size]


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch samples: tensors stacked on a new first axis, lists of tensors (views) stacked item by item,
    anything else (``object_id``) kept as a list."""
    if not samples:
        raise ValueError("cannot collate an empty batch")
    batch: dict[str, Any] = {}
    for key, first in samples[0].items():
        values = [sample[key] for sample in samples]
        if isinstance(first, torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(first, (list, tuple)) and first and isinstance(first[0], torch.Tensor):
            batch[key] = [torch.stack([value[i] for value in values]) for i in range(len(first))]
        else:
            batch[key] = values
    return batch


def distributed_world(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(rank, world_size): explicit values, else torch.distributed when initialised, else RANK/WORLD_SIZE from the
    environment (set by torchrun and inherited by DataLoader workers), else (0, 1)."""
    if rank is None or world_size is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        elif "RANK" in os.environ and "WORLD_SIZE" in os.environ:
            rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        else:
            rank, world_size = 0, 1
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank must be in [0, world_size) and world_size >= 1 "
                          f"(got rank={rank}, world_size={world_size})")
    return rank, world_size


def _block(index: int, count: int, total: int) -> tuple[int, int]:
    """[start, stop) of part ``index`` of ``count`` near-equal contiguous parts of ``total`` items."""
    return index * total // count, (index + 1) * total // count


class ShardDataset(IterableDataset):
    """Stream ``{"object_id", "image", ["label"], ["target"], ...}`` samples from galssl Parquet shards.

    ``image`` is the (C, H, W) float32 flux image, then ``transform(image, generator)`` (a tensor, or a dict merged
    into the sample), then ``normalise`` on ``image`` and any ``views``. Training passes neither: it augments and
    normalises whole batches on the device (``galssl.augment.views``).
    ``labels`` (indexed, or with a column, ``object_id``) attaches ``label`` (int64, -1 when missing) from
    ``label_column`` and ``target`` ((K,) float32, NaN when missing) from ``target_columns``. See the module
    docstring for the work split. Memory: one read batch of ``read_batch_size`` rows plus ``shuffle_buffer``
    images per consumer, whatever the dataset size.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], splits: Sequence[str] | None = None, seed: int = 0,
                 shuffle: bool = False, shuffle_buffer: int = 1024, labels: pd.DataFrame | None = None,
                 label_column: str | None = None, target_columns: Sequence[str] = (),
                 transform: Transform | None = None, normalise: Normalise | None = None,
                 rank: int | None = None, world_size: int | None = None, drop_uneven: bool = False,
                 read_batch_size: int = 128, object_ids: Collection[str] | None = None) -> None:
        super().__init__()
        if not paths:
            raise ConfigError("ShardDataset needs at least one shard path")
        if shuffle_buffer < 1 or read_batch_size < 1:
            raise ConfigError(f"shuffle_buffer and read_batch_size must be >= 1 "
                              f"(got {shuffle_buffer}, {read_batch_size})")
        if isinstance(splits, str):
            splits = (splits,)
        self.paths = [os.fspath(path) for path in paths]
        self.splits = None if splits is None else tuple(splits)
        # Optional subset of objects (e.g. the N labelled galaxies of a label-efficiency run), within the splits.
        self.object_ids = None if object_ids is None else pa.array(sorted(set(map(str, object_ids))), pa.string())
        self.seed, self.shuffle, self.shuffle_buffer = int(seed), bool(shuffle), int(shuffle_buffer)
        self.transform, self.normalise = transform, normalise
        self.rank, self.world_size, self.drop_uneven = rank, world_size, bool(drop_uneven)
        self.read_batch_size = int(read_batch_size)
        self.epoch = 0
        self.image_shape, self.shard_counts = self._index()
        self._attach_labels(labels, label_column, tuple(target_columns))

    def _index(self) -> tuple[tuple[int, int, int], list[int]]:
        """Image shape and selected rows per shard, from metadata and (when filtering) the ``split`` column."""
        shape: tuple[int, int, int] | None = None
        counts = []
        for path in self.paths:
            try:
                with pq.ParquetFile(path) as parquet:
                    this_shape, num_rows = image_shape(parquet.schema_arrow, path), parquet.metadata.num_rows
                    row_hashes(parquet.schema_arrow, num_rows, path)  # rows added or dropped: refused before work
                    keep = self._keep(parquet.read(columns=self._filter_columns())) if self._filter_columns() else None
            except FileNotFoundError:
                raise DataError(f"shard {path}: file not found; run the ingest step (snakemake)") from None
            except (OSError, pa.ArrowException) as error:
                raise shard_error(path, f"cannot read it as Parquet ({type(error).__name__}: "
                                        f"{' '.join(str(error).split())[:120]})") from None
            if shape is not None and this_shape != shape:
                raise DataError(f"shard {path} holds {this_shape} images, earlier shards {shape}")
            shape = this_shape
            counts.append(num_rows if keep is None else int(keep.sum()))
        assert shape is not None
        return shape, counts

    def _filter_columns(self) -> list[str]:
        """Columns that decide which rows are selected (none: every row)."""
        return ([] if self.splits is None else ["split"]) + ([] if self.object_ids is None else ["object_id"])

    def _keep(self, rows: pa.Table | pa.RecordBatch) -> np.ndarray:
        """Boolean mask of the selected rows of a table or batch holding the filter columns."""
        keep = np.ones(rows.num_rows, dtype=bool)
        if self.splits is not None:
            keep &= pc.is_in(rows.column("split"), pa.array(self.splits, pa.string())).to_numpy(zero_copy_only=False)
        if self.object_ids is not None:
            keep &= pc.is_in(rows.column("object_id"), self.object_ids).to_numpy(zero_copy_only=False)
        return keep

    def _attach_labels(self, labels: pd.DataFrame | None, label_column: str | None,
                       target_columns: tuple[str, ...]) -> None:
        """Turn the label table into id → row lookups and dense arrays (cheap to copy into workers)."""
        self.label_column, self.target_columns = label_column, target_columns
        self._label_row: dict[str, int] = {}
        self._label_values = np.zeros(0, np.int64)
        self._target_values = np.zeros((0, len(target_columns)), np.float32)
        if labels is None:
            if label_column or target_columns:
                raise ConfigError("label_column/target_columns need a labels table")
            return
        if not label_column and not target_columns:
            raise ConfigError("a labels table needs label_column and/or target_columns to attach")
        if labels.index.name != "object_id" and "object_id" in labels.columns:
            labels = labels.set_index("object_id")
        missing = [c for c in (label_column, *target_columns) if c and c not in labels.columns]
        if missing:
            raise DataError(f"labels table has no column(s) {missing} (columns: {list(labels.columns)[:20]}...)")
        if not labels.index.is_unique:
            raise DataError("labels table has repeated object_id values")
        self._label_row = {str(object_id): i for i, object_id in enumerate(labels.index)}
        if label_column:
            values = pd.to_numeric(labels[label_column], errors="coerce").to_numpy(np.float64, na_value=np.nan)
            if np.any(np.isfinite(values) & (values != np.round(values))):
                raise DataError(f"label column {label_column!r} must hold integer classes")
            self._label_values = np.where(np.isfinite(values), values, -1).astype(np.int64)
        if target_columns:
            self._target_values = labels[list(target_columns)].apply(pd.to_numeric, errors="coerce") \
                .to_numpy(np.float32, na_value=np.nan)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shard order, shuffle buffer and augmentations the next iterator uses."""
        self.epoch = int(epoch)

    def _rank_block(self, rank: int, world_size: int) -> tuple[int, int]:
        total = sum(self.shard_counts)
        if self.drop_uneven:
            per_rank = total // world_size
            return rank * per_rank, (rank + 1) * per_rank
        return _block(rank, world_size, total)

    def __len__(self) -> int:
        """Samples this rank yields per epoch (all its DataLoader workers together)."""
        start, stop = self._rank_block(*distributed_world(self.rank, self.world_size))
        return stop - start

    def shard_order(self) -> list[int]:
        """Shard indices in this epoch's reading order (the same in every rank and worker)."""
        if not self.shuffle:
            return list(range(len(self.paths)))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.paths)).tolist()

    def consumer_block(self) -> tuple[int, int]:
        """[start, stop) in the epoch's selected-row numbering for the calling rank and DataLoader worker."""
        rank, world_size = distributed_world(self.rank, self.world_size)
        if self.drop_uneven and sum(self.shard_counts) < world_size:
            raise DataError(f"{sum(self.shard_counts)} samples cannot feed {world_size} ranks with drop_uneven")
        rank_start, rank_stop = self._rank_block(rank, world_size)
        worker = get_worker_info()
        worker_id, n_workers = (0, 1) if worker is None else (worker.id, worker.num_workers)
        start, stop = _block(worker_id, n_workers, rank_stop - rank_start)
        return rank_start + start, rank_start + stop

    def _read_rows(self, start: int, stop: int) -> Iterator[tuple[str, np.ndarray]]:
        """(object_id, image) of selected rows start..stop-1, reading only the shards that overlap them."""
        columns = ["object_id", "image"] + ([] if self.splits is None else ["split"])
        offset = 0
        for shard in self.shard_order():
            count = self.shard_counts[shard]
            low, high = max(start - offset, 0), min(stop - offset, count)
            offset += count
            if low >= high:
                continue
            with pq.ParquetFile(self.paths[shard]) as parquet:
                yield from self._read_shard(parquet, columns, low, high, self.paths[shard])

    def _read_shard(self, parquet: pq.ParquetFile, columns: list[str], low: int, high: int,
                    path: str) -> Iterator[tuple[str, np.ndarray]]:
        """Selected rows low..high-1 of one shard, one record batch at a time, each checked against the shard's
        content hash before it is yielded."""
        hashes = row_hashes(parquet.schema_arrow, parquet.metadata.num_rows, path)
        seen = 0  # selected rows of this shard read so far
        first = 0  # file row of the batch's first row
        for batch in parquet.iter_batches(batch_size=self.read_batch_size, columns=columns):
            rows = np.arange(batch.num_rows) if not self._filter_columns() else np.flatnonzero(self._keep(batch))
            wanted = rows[max(low - seen, 0):max(high - seen, 0)]
            seen += len(rows)
            object_ids, images = batch.column("object_id"), batch.column("image")
            for row in wanted.tolist():
                object_id = object_ids[row].as_py()
                yield object_id, decode_image(images[row].as_py(), self.image_shape, path, object_id, hashes,
                                              first + row)
            first += batch.num_rows
            if seen >= high:
                break

    def _shuffled(self, items: Iterator[tuple[str, np.ndarray]], key: list[int]) -> Iterator[tuple[str, np.ndarray]]:
        """Buffered shuffle: keep ``shuffle_buffer`` items, emit a random one as each new item arrives."""
        rng = np.random.default_rng(key)
        buffer: list[tuple[str, np.ndarray]] = []
        for item in items:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(item)
                continue
            index = int(rng.integers(len(buffer)))
            yield buffer[index]
            buffer[index] = item
        for index in rng.permutation(len(buffer)).tolist():
            yield buffer[index]

    def _sample(self, object_id: str, flux: np.ndarray) -> dict[str, Any]:
        """One sample: image (transformed, normalised) and attached labels."""
        image = torch.from_numpy(flux.astype(np.float32))  # a writable native-endian copy
        sample: dict[str, Any] = {"object_id": object_id, "image": image}
        if self.transform is not None:
            out = self.transform(image, sample_generator(self.seed, self.epoch, object_id))
            sample.update(out if isinstance(out, dict) else {"image": out})
        if self.normalise is not None:
            sample["image"] = self.normalise(sample["image"])
            if "views" in sample:
                sample["views"] = [self.normalise(view) for view in sample["views"]]
        row = self._label_row.get(object_id)
        if self.label_column:
            sample["label"] = torch.tensor(-1 if row is None else self._label_values[row], dtype=torch.int64)
        if self.target_columns:
            missing = np.full(len(self.target_columns), np.nan, np.float32)
            sample["target"] = torch.tensor(missing if row is None else self._target_values[row], dtype=torch.float32)
        return sample

    def __iter__(self) -> Iterator[dict[str, Any]]:
        start, stop = self.consumer_block()
        items = self._read_rows(start, stop)
        if self.shuffle:
            items = self._shuffled(items, [self.seed, self.epoch, start, stop])
        for object_id, flux in items:
            yield self._sample(object_id, flux)
