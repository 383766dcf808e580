"""Low-level table reading for catalogues and label tables: astropy tables (FITS, ECSV) with their column units,
duplicate column names, and angle columns converted to degrees.

``read_astropy_table`` keeps each column's unit in ``frame.attrs["units"]`` so that ``angles_in_degrees`` can
convert ra/dec given in rad, hourangle, arcmin or arcsec (and refuse a unit that is not an angle) before the
catalogue checks, which all work in degrees.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from galssl.errors import DataError

ANGLE_UNITS = ("deg", "rad", "hourangle", "arcmin", "arcsec")
"""Angle units a coordinate column may carry (anything astropy converts to degrees is accepted)."""

NO_POSITIONS = "this run has no positions (the catalogue has no ra/dec: its images are matched by object_id)"
"""Start of every message of a step that needs sky positions in a run whose catalogue has none."""


def reject_duplicate_columns(names: Iterable[object], source: str) -> None:
    """DataError naming the first column name that occurs more than once (readers would rename or drop it)."""
    seen: set[str] = set()
    for name in (str(name) for name in names):
        if name in seen:
            raise DataError(f"{source}: column {name!r} appears more than once in the header; rename or drop one "
                            f"of them (readers would silently keep one or rename it {name + '.1'!r})")
        seen.add(name)


def csv_header(path: str | os.PathLike[str]) -> list[str]:
    """The header names of a CSV exactly as written (pandas would rename a repeated 'ra' to 'ra.1')."""
    first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(name) for name in first.iloc[0].tolist()] if len(first) else []


def parquet_names(path: str | os.PathLike[str]) -> list[str]:
    """Column names of a Parquet file from its schema (pandas index columns left out)."""
    import pyarrow.parquet as pq

    return [name for name in pq.read_schema(path).names if not name.startswith("__index_level_")]


def fits_names(path: str | os.PathLike[str]) -> list[str]:
    """Column names of the first table HDU of a FITS file (empty when it has none)."""
    from astropy.io import fits

    with fits.open(path) as hdus:
        table = next((hdu for hdu in hdus if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)), None)
        return [] if table is None else [str(name) for name in table.columns.names]


def read_astropy_table(path: str | os.PathLike[str], kind: str) -> pd.DataFrame:
    """A FITS (first table HDU) or ECSV table as native-endian pandas columns, strings decoded; each column's
    unit string (when it has one) is kept in ``frame.attrs["units"]``."""
    from astropy.table import Table
    from astropy.units import UnitsWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsWarning)  # a non-standard unit string must not stop ingestion
        if kind == "FITS":
            table = Table.read(path, format="fits", character_as_bytes=False)
        else:
            table = Table.read(path, format="ascii.ecsv")
    units = {str(name): str(table[name].unit) for name in table.colnames
             if getattr(table[name], "unit", None) is not None and str(table[name].unit) != ""}
    frame = table.to_pandas()
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, np.dtype) and not values.dtype.isnative:
            frame[column] = values.astype(values.dtype.newbyteorder("="))
        elif values.dtype == object and values.map(lambda v: isinstance(v, bytes)).any():
            frame[column] = values.map(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
    frame.attrs["units"] = units
    return frame


def angles_in_degrees(table: pd.DataFrame, source: str, columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """``table`` with each ``(column, role)`` that carries an angle unit (``attrs["units"]``) converted to degrees.

    A column without a unit is taken as degrees; a unit that is not an angle (e.g. 'm', 'h', 'mag') is a DataError
    naming the file, the column and its unit. A non-numeric column is left to the catalogue checks.
    """
    units = table.attrs.get("units") or {}
    if not any(column in units for column, _ in columns):
        return table
    import astropy.units as u

    table = table.copy()
    for column, role in columns:
        text = units.get(column)
        if text is None or column not in table.columns:
            continue
        unit = u.Unit(text, parse_strict="silent")
        if isinstance(unit, u.UnrecognizedUnit) or not unit.is_equivalent(u.deg):
            hint = " (hours of right ascension are 'hourangle')" if role == "ra" and unit == u.hour else ""
            raise DataError(f"{source}: column {column!r} ({role}) has unit {text!r}, which is not an angle{hint}; "
                            f"give {role} in degrees or in one of {', '.join(ANGLE_UNITS)}")
        if unit == u.deg or not pd.api.types.is_numeric_dtype(table[column].dtype) \
                or pd.api.types.is_bool_dtype(table[column].dtype):
            continue
        values = table[column].to_numpy(dtype=np.float64, na_value=np.nan)
        table[column] = (values * unit).to_value(u.deg)
    return table


def astropy_names(path: Path, kind: str) -> list[str]:
    """Column names of a FITS or ECSV table from its header."""
    if kind == "FITS":
        return fits_names(path)
    from astropy.table import Table

    return [str(name) for name in Table.read(path, format="ascii.ecsv").colnames]


def read_table(path: str | os.PathLike[str], what: str) -> pd.DataFrame:
    """A Parquet, CSV or FITS table with an object_id column (ids as strings)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path}: file not found")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        table = pd.read_parquet(path)
    elif name.endswith(".csv"):
        table = pd.read_csv(path, dtype={"object_id": str})
    elif name.endswith((".fits", ".fit", ".fits.gz", ".fit.gz")):
        from astropy.table import Table

        table = Table.read(path).to_pandas()
    else:
        raise DataError(f"{what} {path}: unknown file type (use .parquet, .csv or .fits)")
    if "object_id" not in table.columns:
        raise DataError(f"{what} {path}: no object_id column (columns: {', '.join(map(str, table.columns[:12]))})")
    table["object_id"] = table["object_id"].astype(str)
    return table
