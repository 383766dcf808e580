"""Read, validate and normalise user catalogues; assign train/val/test splits; cross-match label tables.

The normalised catalogue (``catalog.parquet``) has ``object_id`` (str), ``ra`` and ``dec`` (float64, degrees,
ICRS) first, then ``split``, then every other column of the input. Object ids become cache file names, so they
are checked to be safe as file names on every platform before anything is written. When every survey matches its
images by object_id (provider ``files``) the positions are optional: a catalogue without ra/dec gets NaN there,
and whatever needs a position says that the run has none (``NO_POSITIONS``).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable, Mapping
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd

from galssl.errors import ConfigError, DataError
from galssl.io import write_parquet_atomic
from galssl.tables import (
    NO_POSITIONS,
    angles_in_degrees,
    astropy_names,
    csv_header,
    fits_names,
    parquet_names,
    read_astropy_table,
    reject_duplicate_columns,
)

SPLIT_NAMES = ("train", "val", "test")
SPLIT_TOLERANCE = 1e-6
CORE_COLUMNS = ("object_id", "ra", "dec")
MAX_ID_LENGTH = 128
# Ids become file names: a conservative portable alphabet, no leading '.' (hidden, '..') or '-' (option-like).
SAFE_ID = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")
# Windows device names cannot be file names in any case or with any extension ('con', 'NUL.txt', 'com1.fits').
RESERVED_ID = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)
FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".pq": "Parquet", ".fits": "FITS", ".fit": "FITS",
           ".fits.gz": "FITS", ".fit.gz": "FITS", ".h5": "Galaxy10 HDF5", ".hdf5": "Galaxy10 HDF5", ".ecsv": "ECSV"}
MAX_EXACT_FLOAT_INT = 2**53
MIN_OBJECTS = 10
"""Fewest catalogue rows a run accepts: enough for train, val and test splits and a 2-d map."""


def read_catalog(path: str | os.PathLike[str], id_column: str = "object_id", ra_column: str = "ra",
                 dec_column: str = "dec", positions_optional: bool = False) -> pd.DataFrame:
    """Read a CSV, Parquet or FITS catalogue and return it validated and normalised.

    The result has ``object_id`` (str), ``ra`` and ``dec`` (float64 degrees) first, then every other input
    column unchanged (FITS big-endian and byte-string columns become native pandas types). An extra input column
    that is already called ``object_id``, ``ra`` or ``dec`` but is not the chosen one is kept as
    ``<name>_original``. Integer ids become exact decimal strings. Raises DataError (one line, naming the file,
    the column or row and the fix) for any problem; see ``validate_catalog``.
    """
    if len({id_column, ra_column, dec_column}) < 3:
        raise ConfigError(f"config error: catalog.id_column, ra_column and dec_column must name three different "
                          f"columns (got {id_column!r}, {ra_column!r}, {dec_column!r})")
    table = angles_in_degrees(_read_table(path, id_column), f"catalogue {path}",
                              ((ra_column, "ra"), (dec_column, "dec")))
    return validate_catalog(table, str(path), id_column, ra_column, dec_column, positions_optional)


def validate_catalog(table: pd.DataFrame, name: str, id_column: str = "object_id", ra_column: str = "ra",
                     dec_column: str = "dec", positions_optional: bool = False) -> pd.DataFrame:
    """Check a raw catalogue table and return the normalised frame (see ``read_catalog``).

    Checks, in order: the three columns exist; there is at least one row; every id is present, safe as a file
    name (``[A-Za-z0-9._+-]``, not starting with '.' or '-', at most 128 characters, not a Windows device name such
    as CON or com1.txt, not ending with '.'), unique, and unique ignoring
    case; ra and dec are numeric, finite, ra in [0, 360) and dec in [-90, 90] degrees. ``name`` (the file) starts
    every DataError message. With ``positions_optional`` a table without both coordinate columns gets ra = dec =
    NaN (a files survey matched by object_id); a table with only one of them is still an error.
    """
    no_positions = positions_optional and ra_column not in table.columns and dec_column not in table.columns
    needed = ((id_column, "id_column"),) if no_positions else \
        ((id_column, "id_column"), (ra_column, "ra_column"), (dec_column, "dec_column"))
    for column, key in needed:
        if column not in table.columns:
            neither = ra_column not in table.columns and dec_column not in table.columns
            optional = "" if positions_optional or column == id_column or not neither else \
                "; ra/dec may be left out only when every survey is a `files` survey matched by object_id"
            raise DataError(f"catalogue {name}: missing column {column!r} (columns: {_column_list(table)}; "
                            f"set catalog.{key}{_did_you_mean(column, table.columns)}){optional}")
    if len(table) == 0:
        raise DataError(f"catalogue {name}: no rows (the table has only a header); give at least one object")
    table = table.reset_index(drop=True)
    source = f"catalogue {name}"
    object_ids = _ids_as_strings(table[id_column], source, id_column)
    _check_ids(object_ids, source, id_column)
    if no_positions:
        ra = dec = np.full(len(table), np.nan)
        rest = table.drop(columns=[id_column])
    else:
        ra = _coordinate(table[ra_column], object_ids, source, ra_column, "ra")
        dec = _coordinate(table[dec_column], object_ids, source, dec_column, "dec")
        _check_coordinates(ra, dec, object_ids, source, ra_column, dec_column)
        rest = table.drop(columns=[id_column, ra_column, dec_column])
    rest = rest.rename(columns={c: f"{c}_original" for c in rest.columns if c in CORE_COLUMNS})
    core = pd.DataFrame({"object_id": object_ids.astype(str), "ra": ra, "dec": dec})
    return pd.concat([core, rest], axis=1)


def assign_split(object_ids: Iterable[str], fractions: Mapping[str, float], seed: int) -> np.ndarray:
    """Deterministic train/val/test label for each id, from a blake2b hash of ``(seed, object_id)``.

    Each object's split depends only on its own id and the seed, never on row order or on the other objects, so
    adding objects never moves existing ones. ``fractions`` maps split names (train, val, test; a missing one
    counts as 0) to fractions in [0, 1] that sum to 1 within 1e-6; otherwise ConfigError naming catalog.split.
    """
    cumulative = _split_edges(fractions)
    names = np.array(SPLIT_NAMES)
    last_used = max(i for i, name in enumerate(SPLIT_NAMES) if fractions.get(name, 0.0) > 0)
    uniform = np.array([_unit_hash(str(object_id), seed) for object_id in object_ids], dtype=np.float64)
    index = np.searchsorted(cumulative, uniform, side="right")
    # A hash in the rounding gap [sum, 1) goes to the last split that is in use, never to an empty one.
    index = np.minimum(index, last_used)
    return names[index]


def crossmatch_labels(catalog_df: pd.DataFrame, labels_df: pd.DataFrame, radius_arcsec: float,
                      label_ra: str = "ra", label_dec: str = "dec") -> pd.DataFrame:
    """Attach to each catalogue row the nearest label row within ``radius_arcsec`` (both in ICRS degrees).

    Returns the catalogue (index reset, same row order) with every label column appended and
    ``match_separation_arcsec``. A label column whose name is already taken (``object_id``, ``ra``, ``dec``...)
    gets the suffix ``_label``. Unmatched rows get NaN labels and separation. Matching is one-to-one: when a
    label row is the nearest one of several catalogue objects, only the closest object keeps it (ties go to the
    earlier row) and the others are left unmatched, not re-matched to their second-nearest label.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord, match_coordinates_sky

    if isinstance(radius_arcsec, bool) or not isinstance(radius_arcsec, Real) or not 0 < radius_arcsec < math.inf:
        raise ConfigError(f"config error: catalog.match_radius_arcsec must be a number > 0 (got {radius_arcsec!r})")
    if not {"ra", "dec"} <= set(catalog_df.columns):
        raise DataError(f"catalogue: missing ra/dec columns (columns: {_column_list(catalog_df)}); cross-match a "
                        f"catalogue returned by read_catalog")
    if len(catalog_df) and not np.isfinite(catalog_df["ra"].to_numpy(dtype=float)).any():
        raise DataError(f"{NO_POSITIONS}, so catalog.labels cannot be cross-matched by position; give the labels "
                        "as labels.table, joined on object_id")
    for column, key in ((label_ra, "label_ra"), (label_dec, "label_dec")):
        if column not in labels_df.columns:
            raise DataError(f"labels table: missing column {column!r} (columns: {_column_list(labels_df)}; "
                            f"set {key}{_did_you_mean(column, labels_df.columns)})")
    catalog = catalog_df.reset_index(drop=True)
    labels = labels_df.reset_index(drop=True)
    label_ids = pd.Series([f"label row {i + 1}" for i in range(len(labels))], dtype=object)
    labels_ra = _coordinate(labels[label_ra], label_ids, "labels table", label_ra, "ra")
    labels_dec = _coordinate(labels[label_dec], label_ids, "labels table", label_dec, "dec")
    _check_coordinates(labels_ra, labels_dec, label_ids, "labels table", label_ra, label_dec)

    match_index = np.full(len(catalog), -1, dtype=np.int64)
    separation = np.full(len(catalog), np.nan)
    if len(catalog) and len(labels):
        targets = SkyCoord(catalog["ra"].to_numpy(float) * u.deg, catalog["dec"].to_numpy(float) * u.deg)
        sources = SkyCoord(labels_ra * u.deg, labels_dec * u.deg)
        nearest, angle, _ = match_coordinates_sky(targets, sources)
        nearest_arcsec = angle.to_value(u.arcsec)
        within = np.flatnonzero(nearest_arcsec <= radius_arcsec)
        # Sort candidates by (label, separation, row) so the first of each label is its closest object.
        order = within[np.lexsort((within, nearest_arcsec[within], nearest[within]))]
        _, first = np.unique(nearest[order], return_index=True)
        winners = order[first]
        match_index[winners] = nearest[winners]
        separation[winners] = nearest_arcsec[winners]

    taken = set(catalog.columns) | {"match_separation_arcsec"}
    renamed = {}
    for column in labels.columns:
        new_name = column
        while new_name in taken:
            new_name = f"{new_name}_label"
        taken.add(new_name)
        renamed[column] = new_name
    # reindex with -1 (no such row) yields an all-NaN row for every unmatched catalogue object.
    matched = labels.rename(columns=renamed).reindex(match_index).reset_index(drop=True)
    result = pd.concat([catalog, matched], axis=1)
    result["match_separation_arcsec"] = separation
    return result


def normalise_catalog(path_in: str | os.PathLike[str], path_out: str | os.PathLike[str], *,
                      id_column: str = "object_id", ra_column: str = "ra", dec_column: str = "dec",
                      split_fractions: Mapping[str, float], seed: int,
                      labels_path: str | os.PathLike[str] | None = None,
                      match_radius_arcsec: float = 1.0, positions_optional: bool = False) -> pd.DataFrame:
    """Read and validate ``path_in``, add ``split``, optionally cross-match a label table, write ``path_out``.

    ``labels_path`` is a CSV/Parquet/FITS table with ``ra``/``dec`` columns (degrees) whose rows are attached by
    ``crossmatch_labels`` within ``match_radius_arcsec``. An input column already named ``split`` is kept as
    ``split_original``. The Parquet output is written atomically and only after every check has passed, so a
    failing catalogue leaves no file behind. ``positions_optional``: see ``validate_catalog``. Returns the written
    frame.
    """
    _split_edges(split_fractions)
    catalog = read_catalog(path_in, id_column=id_column, ra_column=ra_column, dec_column=dec_column,
                           positions_optional=positions_optional)
    if "split" in catalog.columns:
        catalog = catalog.rename(columns={"split": "split_original"})
    catalog.insert(3, "split", assign_split(catalog["object_id"], split_fractions, seed))
    catalog["split"] = catalog["split"].astype(str)
    if labels_path is not None:
        if len(catalog) and catalog["ra"].isna().all():
            raise DataError(f"{NO_POSITIONS}, so catalog.labels cannot be cross-matched by position; give the "
                            "labels as labels.table, joined on object_id")
        labels = angles_in_degrees(_read_table(labels_path, what="labels table", key="catalog.labels"),
                                   f"labels table {labels_path}", (("ra", "ra"), ("dec", "dec")))
        for column in ("ra", "dec"):
            if column not in labels.columns:
                raise DataError(f"labels table {labels_path}: missing column {column!r} "
                                f"(columns: {_column_list(labels)}; rename its coordinates to ra and dec, degrees)")
        if len(labels) == 0:
            raise DataError(f"labels table {labels_path}: no rows; give at least one labelled object")
        label_ids = pd.Series([f"label row {i + 1}" for i in range(len(labels))], dtype=object)
        label_ra = _coordinate(labels["ra"], label_ids, f"labels table {labels_path}", "ra", "ra")
        label_dec = _coordinate(labels["dec"], label_ids, f"labels table {labels_path}", "dec", "dec")
        _check_coordinates(label_ra, label_dec, label_ids, f"labels table {labels_path}", "ra", "dec")
        catalog = crossmatch_labels(catalog, labels, match_radius_arcsec)
    write_parquet_atomic(catalog, path_out)
    return catalog


# --- reading -----------------------------------------------------------------------------------------------

def _read_table(path: str | os.PathLike[str], id_column: str | None = None, what: str = "catalogue",
                key: str = "catalog.path") -> pd.DataFrame:
    """Read a table by extension; the id column of a CSV is read verbatim as text (no 'NA' → NaN, no floats).

    ``what`` starts every message ("catalogue", "labels table"); ``key`` is the setting that names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path}: file not found (set {key} to an existing CSV, Parquet or FITS table)")
    lowered = path.name.lower()
    suffix = next((s for s in sorted(FORMATS, key=len, reverse=True) if lowered.endswith(s)), None)
    if suffix is None:
        raise DataError(f"{what} {path}: unknown file type {''.join(path.suffixes) or '(no extension)'!r} "
                        f"(use {', '.join(FORMATS)})")
    kind = FORMATS[suffix]
    try:
        if kind in ("CSV", "Parquet", "FITS"):  # readers rename (CSV 'ra.1') or fail on a repeated column name
            names = {"CSV": csv_header, "Parquet": parquet_names, "FITS": fits_names}[kind](path)
            reject_duplicate_columns(names, f"{what} {path}")
        if kind == "CSV":
            table = pd.read_csv(path)
            if id_column is not None and id_column in table.columns:
                raw_ids = pd.read_csv(path, usecols=[id_column], dtype=str, na_filter=False)[id_column]
                table[id_column] = raw_ids.to_numpy(dtype=object)
        elif kind == "Parquet":
            table = pd.read_parquet(path)
            if any(name is not None for name in table.index.names):
                table = table.reset_index()  # an id stored as the pandas index is an ordinary column here
        elif kind in ("FITS", "ECSV"):
            table = read_astropy_table(path, kind)
        else:  # a Galaxy10-layout HDF5 file is its own catalogue (g10_NNNNN ids, classes, redshifts)
            from galssl.providers.files import galaxy10_table

            table = galaxy10_table(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{what} {path}: empty file (no header, no rows); give a table with at least one "
                        f"object") from None
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001 — every reader fails differently on a corrupt file; all mean the same
        detail = " ".join(str(error).split())[:160]
        raise DataError(f"{what} {path}: cannot read as {kind} ({type(error).__name__}: {detail}); check the "
                        f"file is a valid {kind} table") from None
    table.columns = [str(column) for column in table.columns]
    return table


# --- validation --------------------------------------------------------------------------------------------

def _ids_as_strings(raw: pd.Series, source: str, column: str) -> pd.Series:
    """Ids as exact strings (object dtype, None where missing); integer ids never pass through float."""
    if pd.api.types.is_integer_dtype(raw.dtype):
        return pd.Series([None if pd.isna(v) else str(int(v)) for v in raw], dtype=object)
    if pd.api.types.is_float_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if np.any(finite != np.round(finite)) or np.any(np.abs(finite) > MAX_EXACT_FLOAT_INT):
            raise DataError(f"{source}: column {column!r} holds ids as floating point numbers, which "
                            f"cannot represent large ids exactly; store the ids as integers or text")
        return pd.Series([str(int(v)) if math.isfinite(v) else None for v in values], dtype=object)
    out = []
    for value in raw.to_numpy(dtype=object):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        out.append(None if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA
                   else str(value))
    return pd.Series(out, dtype=object)


def _check_ids(object_ids: pd.Series, source: str, column: str) -> None:
    """Ids present, safe as file names, unique (also ignoring case, for case-insensitive file systems)."""
    missing = np.flatnonzero([value is None or value == "" for value in object_ids])
    if len(missing):
        raise DataError(f"{source}: {_count(len(missing), 'row')} with an empty or missing id in column "
                        f"{column!r} (first: row {missing[0] + 1}); give every object an id")
    unsafe = [i for i, value in enumerate(object_ids) if len(value) > MAX_ID_LENGTH or not SAFE_ID.fullmatch(value)]
    if unsafe:
        first = object_ids[unsafe[0]]
        shown = repr(first) if len(first) <= 40 else repr(first[:40]) + "..."
        raise DataError(f"{source}: {_count(len(unsafe), 'id')} in column {column!r} unsafe as file names "
                        f"(first: {shown} in row {unsafe[0] + 1}); use only letters, digits and . _ + -, not "
                        f"starting with . or -, at most {MAX_ID_LENGTH} characters")
    reserved = [i for i, value in enumerate(object_ids) if RESERVED_ID.fullmatch(value)]
    if reserved:
        raise DataError(f"{source}: {_count(len(reserved), 'id')} in column {column!r} reserved as device names on "
                        f"Windows (first: {object_ids[reserved[0]]!r} in row {reserved[0] + 1}), so not usable as file "
                        f"names there; rename them (CON, PRN, AUX, NUL, COM0-9, LPT0-9 in any case, with or without "
                        f"an extension), e.g. with a prefix")
    # Windows drops trailing dots from file names: 'g1.' and 'g1' would share files (trailing spaces fail SAFE_ID).
    stripped = [i for i, value in enumerate(object_ids) if value.endswith(".")]
    if stripped:
        first = object_ids[stripped[0]]
        raise DataError(f"{source}: {_count(len(stripped), 'id')} in column {column!r} ending with '.' (first: "
                        f"{first!r} in row {stripped[0] + 1}), which Windows strips from file names, so "
                        f"{first!r} and {first.rstrip('.')!r} would be one file; drop the trailing dots")
    for keys, how in ((object_ids, "duplicate"), (object_ids.str.lower(), "case-insensitive duplicate")):
        repeated = keys[keys.duplicated(keep=False)]
        if len(repeated):
            first = repeated.iloc[0]
            rows = ", ".join(str(i + 1) for i in repeated.index[repeated == first][:3])
            fix = "ids must be unique" if how == "duplicate" else \
                "ids become file names and must differ by more than letter case"
            raise DataError(f"{source}: {_count(repeated.nunique(), how + ' id')} in column {column!r} (first: "
                            f"{object_ids[repeated.index[0]]!r} in rows {rows}); {fix}")


def _coordinate(raw: pd.Series, object_ids: pd.Series, source: str, column: str, role: str) -> np.ndarray:
    """A coordinate column as float64 degrees; DataError naming the first non-numeric row."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        raise DataError(f"{source}: column {column!r} ({role}) is boolean, not numeric; set "
                        f"catalog.{role}_column to the {role} in decimal degrees")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy() & raw.notna().to_numpy())
    if len(bad):
        value = raw.iloc[bad[0]]
        value = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        raise DataError(f"{source}: non-numeric {role} in column {column!r}, row {bad[0] + 1} "
                        f"(id {object_ids.iloc[bad[0]]!r}): {str(value)[:40]!r}; give {role} in decimal degrees "
                        f"(convert sexagesimal values first)")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_coordinates(ra: np.ndarray, dec: np.ndarray, object_ids: pd.Series, source: str, ra_column: str,
                       dec_column: str) -> None:
    """Finite coordinates, ra in [0, 360), dec in [-90, 90] (degrees)."""
    nonfinite = np.flatnonzero(~(np.isfinite(ra) & np.isfinite(dec)))
    if len(nonfinite):
        i = nonfinite[0]
        raise DataError(f"{source}: {_count(len(nonfinite), 'row')} with NaN/inf/missing coordinates (first: "
                        f"id {object_ids.iloc[i]!r}, {ra_column}={ra[i]}, {dec_column}={dec[i]}); drop those rows "
                        f"or fill in ra and dec")
    bad_ra = np.flatnonzero((ra < 0) | (ra >= 360))
    if len(bad_ra):
        i = bad_ra[0]
        raise DataError(f"{source}: {_count(len(bad_ra), 'row')} with {ra_column!r} outside [0, 360) degrees "
                        f"(first: id {object_ids.iloc[i]!r}, ra={ra[i]}); wrap ra into [0, 360), e.g. ra % 360")
    bad_dec = np.flatnonzero((dec < -90) | (dec > 90))
    if len(bad_dec):
        i = bad_dec[0]
        raise DataError(f"{source}: {_count(len(bad_dec), 'row')} with {dec_column!r} outside [-90, 90] "
                        f"degrees (first: id {object_ids.iloc[i]!r}, dec={dec[i]}); check catalog.dec_column is "
                        f"the declination in degrees")


# --- splits and helpers ------------------------------------------------------------------------------------

def _split_edges(fractions: Mapping[str, float]) -> np.ndarray:
    """Cumulative upper edges of train, val, test in [0, 1]; ConfigError naming catalog.split if invalid."""
    unknown = sorted(set(fractions) - set(SPLIT_NAMES))
    if unknown:
        raise ConfigError(f"config error: catalog.split has unknown split {unknown[0]!r} (allowed: "
                          f"{', '.join(SPLIT_NAMES)})")
    values = []
    for split in SPLIT_NAMES:
        value = fractions.get(split, 0.0)
        if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"config error: catalog.split.{split} must be a number in [0, 1] (got {value!r})")
        values.append(float(value))
    total = sum(values)
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        raise ConfigError(f"config error: catalog.split fractions must sum to 1 (got train + val + test = "
                          f"{total:.6g})")
    return np.cumsum(values)


def _unit_hash(object_id: str, seed: int) -> float:
    """A number in [0, 1) from (seed, object_id); tagged so it is independent of the shard-ordering hash."""
    digest = hashlib.blake2b(f"split:{seed}:{object_id}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) / 2.0**53  # 53 bits: exact in a float64, never 1.0


def _column_list(table: pd.DataFrame, limit: int = 12) -> str:
    """The table's column names for a message, shortened after ``limit``."""
    names = [str(column) for column in table.columns]
    shown = ", ".join(names[:limit])
    return (shown + f", ... ({len(names)} in all)" if len(names) > limit else shown) or "none"


def _did_you_mean(column: str, columns: Iterable[object]) -> str:
    """'; did you mean X?' when a column differs only by case or surrounding spaces, else ''."""
    wanted = column.strip().lower()
    close = [str(c) for c in columns if str(c).strip().lower() == wanted]
    return f"; did you mean {close[0]!r}?" if close else ""


def _count(number: int, noun: str) -> str:
    """'1 row', '3 rows'."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def count_rows(path: str | os.PathLike[str]) -> int:
    """Number of objects in a catalogue file, cheaply where the format allows (used to plan the shard scatter)."""
    lowered = str(path).lower()
    if lowered.endswith((".parquet", ".pq")) and Path(path).is_file():
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return len(_read_table(path))


def check_object_count(n_objects: int, source: str) -> None:
    """ConfigError (mock sky) or DataError (a file) unless the catalogue has at least MIN_OBJECTS rows."""
    if n_objects >= MIN_OBJECTS:
        return
    error = ConfigError if source == "mock.n_objects" else DataError
    raise error(f"{source}: {n_objects} object(s), but a run needs at least {MIN_OBJECTS} (train, val and test "
                f"splits, and a 2-d map); add objects")


def table_columns(path: str | os.PathLike[str], key: str = "catalog.path") -> list[str]:
    """Column names of a CSV, Parquet, FITS or Galaxy10 HDF5 table from its header only (cheap at parse time).

    A Galaxy10 file has object_id, ra, dec, galaxy10_class, and redshift only when the file holds redshifts.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table {path}: file not found (set {key} to an existing CSV, Parquet or FITS table)")
    lowered = path.name.lower()
    suffix = next((s for s in sorted(FORMATS, key=len, reverse=True) if lowered.endswith(s)), None)
    kind = FORMATS.get(suffix or "")
    try:
        if kind == "CSV":
            return [str(name) for name in pd.read_csv(path, nrows=0).columns]
        if kind == "Parquet":
            import pyarrow.parquet as pq

            return [str(name) for name in pq.read_schema(path).names if not name.startswith("__index_level_")]
        if kind in ("FITS", "ECSV"):
            return astropy_names(path, kind)
        if kind == "Galaxy10 HDF5":
            import h5py

            with h5py.File(path, "r") as h5_file:
                has_redshift = "redshift" in h5_file
            return ["object_id", "ra", "dec", "galaxy10_class"] + (["redshift"] if has_redshift else [])
    except (OSError, ValueError, pd.errors.ParserError) as error:
        detail = " ".join(str(error).split())[:160]
        raise DataError(f"table {path}: cannot read its header as {kind} ({detail}); check {key}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"table {path}: empty file (no header); check {key}") from None
    raise DataError(f"table {path}: unknown file type {''.join(path.suffixes) or '(no extension)'!r} "
                    f"(use {', '.join(FORMATS)}; set {key})")
