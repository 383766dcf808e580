"""Catalogue reading, validation, splits and label cross-match: each malformed file has its exact one-line message."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from galssl.catalog import assign_split, crossmatch_labels, normalise_catalog, read_catalog
from galssl.errors import ConfigError, DataError

SPLIT = {"train": 0.7, "val": 0.1, "test": 0.2}
SDSS_IDS = [1237648720693755918, 1237648720693755919, 1237657190906052722, 9223372036854775807]


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` in the format its suffix names (CSV, Parquet or FITS)."""
    name = path.name.lower()
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    elif name.endswith((".parquet", ".pq")):
        frame.to_parquet(path, index=False)
    else:
        Table.from_pandas(frame).write(path, format="fits")
    return path


def good_frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"object_id": [f"g{i}" for i in range(1, n + 1)], "ra": np.linspace(10.0, 20.0, n),
                         "dec": np.linspace(-5.0, 5.0, n)})


def with_column(column: str, values: list) -> pd.DataFrame:
    frame = good_frame(len(values))
    frame[column] = pd.Series(values, dtype=object if any(isinstance(v, str) for v in values) else None)
    return frame


def run_normalise(path: Path, out: Path, **columns: str) -> pd.DataFrame:
    return normalise_catalog(path, out, split_fractions=SPLIT, seed=42, **columns)


def assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


# (file name, content: a DataFrame or raw bytes, reader keyword arguments, expected message regex)
MALFORMED: list[tuple[str, Callable[[], pd.DataFrame | bytes], dict[str, str], str]] = [
    ("cat.txt", lambda: b"object_id,ra,dec\ng1,1,2\n", {},
     r"^catalogue .*cat\.txt: unknown file type '\.txt' \(use \.csv, \.parquet, \.pq, \.fits"),
    ("cat.parquet", lambda: b"object_id,ra,dec\ng1,1,2\n", {},
     r"cat\.parquet: cannot read as Parquet \(.*\); check the file is a valid Parquet table$"),
    ("cat.fits", lambda: b"SIMPLE  = this is not a FITS file" * 20, {},
     r"cat\.fits: cannot read as FITS \(.*\); check the file is a valid FITS table$"),
    ("cat.csv", lambda: b"", {}, r"cat\.csv: empty file \(no header, no rows\)"),
    ("cat.csv", lambda: b"object_id,ra,dec\n", {}, r"cat\.csv: no rows \(the table has only a header\)"),
    ("cat.parquet", lambda: good_frame().iloc[:0], {}, r"cat\.parquet: no rows"),
    ("cat.csv", lambda: pd.DataFrame({"id": ["a"], "RA_deg": [1.0], "dec": [2.0]}), {"id_column": "id"},
     r"^catalogue .*cat\.csv: missing column 'ra' \(columns: id, RA_deg, dec; set catalog\.ra_column\)$"),
    ("cat.fits", lambda: good_frame().rename(columns={"object_id": "OBJID"}), {},
     r"cat\.fits: missing column 'object_id' \(columns: OBJID, ra, dec; set catalog\.id_column\)$"),
    ("cat.csv", lambda: pd.DataFrame({"object_id": ["a"], "RA": [1.0], "dec": [2.0]}), {},
     r"missing column 'ra' \(columns: object_id, RA, dec; set catalog\.ra_column; did you mean 'RA'\?\)$"),
    ("cat.csv", lambda: with_column("ra", [10.0, "12h30m", 11.0]), {},
     r"cat\.csv: non-numeric ra in column 'ra', row 2 \(id 'g2'\): '12h30m'; give ra in decimal degrees"),
    ("cat.parquet", lambda: with_column("dec", ["1.0", "2.0", "north"]), {},
     r"non-numeric dec in column 'dec', row 3 \(id 'g3'\): 'north'"),
    ("cat.csv", lambda: b"object_id,ra,dec\ng1,1,2\ng2,1,\ng3,nan,3\n", {},
     r"cat\.csv: 2 rows with NaN/inf/missing coordinates \(first: id 'g2', ra=1\.0, dec=nan\); drop those rows"),
    ("cat.parquet", lambda: with_column("ra", [1.0, np.inf, 2.0]), {},
     r"1 row with NaN/inf/missing coordinates \(first: id 'g2', ra=inf, dec=0\.0\)"),
    ("cat.fits", lambda: with_column("ra", [1.0, -10.5, 360.0]), {},
     r"cat\.fits: 2 rows with 'ra' outside \[0, 360\) degrees \(first: id 'g2', ra=-10\.5\); wrap ra into \[0, 360\)"),
    ("cat.csv", lambda: with_column("dec", [0.0, 95.0]), {},
     r"cat\.csv: 1 row with 'dec' outside \[-90, 90\] degrees \(first: id 'g2', dec=95\.0\); check "
     r"catalog\.dec_column"),
    ("cat.csv", lambda: with_column("object_id", ["g1", "g2", "g1", "g3", "g3", "g1"]), {},
     r"cat\.csv: 2 duplicate ids in column 'object_id' \(first: 'g1' in rows 1, 3, 6\); ids must be unique$"),
    ("cat.parquet", lambda: with_column("object_id", ["NGC1", "ngc1"]), {},
     r"1 case-insensitive duplicate id in column 'object_id' \(first: 'NGC1' in rows 1, 2\); ids become file names"),
    ("cat.csv", lambda: b"object_id,ra,dec\ng1,1,2\n,1,2\n", {},
     r"cat\.csv: 1 row with an empty or missing id in column 'object_id' \(first: row 2\); give every object an id"),
    ("cat.parquet", lambda: with_column("object_id", ["g1", "g2", None]), {},
     r"1 row with an empty or missing id in column 'object_id' \(first: row 3\)"),
    ("cat.parquet", lambda: with_column("object_id", [1.0, 2.0**60]), {},
     r"column 'object_id' holds ids as floating point numbers.*; store the ids as integers or text$"),
]


@pytest.mark.parametrize(("file_name", "content", "columns", "message"), MALFORMED,
                         ids=[f"{i:02d}-{case[0]}" for i, case in enumerate(MALFORMED)])
def test_malformed_catalogue_raises_one_line_error_and_writes_nothing(
        tmp_path: Path, file_name: str, content: Callable[[], pd.DataFrame | bytes], columns: dict[str, str],
        message: str) -> None:
    path = tmp_path / file_name
    data = content()
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        write_table(data, path)
    out = tmp_path / "results" / "catalog.parquet"
    with pytest.raises(DataError, match=message) as raised:
        run_normalise(path, out, **columns)
    assert "\n" not in str(raised.value)
    assert_nothing_written(out)


def test_missing_file(tmp_path: Path) -> None:
    out = tmp_path / "results" / "catalog.parquet"
    with pytest.raises(DataError, match=r"catalogue .*nope\.csv: file not found \(set catalog\.path"):
        run_normalise(tmp_path / "nope.csv", out)
    assert_nothing_written(out)


UNSAFE_IDS = ["../escape", "a/b", "a\\b", "has space", "nul\x00byte", ".hidden", ".", "..", "-rf", "x" * 129,
              "caf\u00e9", "tab\there", "semi;colon", "star*"]


@pytest.mark.parametrize("bad_id", UNSAFE_IDS, ids=range(len(UNSAFE_IDS)))
def test_unsafe_ids_are_rejected(tmp_path: Path, bad_id: str) -> None:
    path = write_table(with_column("object_id", ["ok1", "ok2", bad_id]), tmp_path / "cat.parquet")
    out = tmp_path / "results" / "catalog.parquet"
    shown = re.escape(repr(bad_id if len(bad_id) <= 40 else bad_id[:40]))
    with pytest.raises(DataError, match=rf"cat\.parquet: 1 id in column 'object_id' unsafe as file names \(first: "
                                        rf"{shown}.* in row 3\); use only letters, digits and \. _ \+ -"):
        run_normalise(path, out)
    assert_nothing_written(out)


def test_safe_unusual_ids_are_accepted(tmp_path: Path) -> None:
    ids = ["J120000.00+150000.0", "a-b_c", "007", "x" * 128, "NA", "null", "1e5"]
    path = write_table(with_column("object_id", ids), tmp_path / "cat.csv")
    assert read_catalog(path)["object_id"].tolist() == ids


def test_same_column_for_two_roles_is_a_config_error(tmp_path: Path) -> None:
    path = write_table(good_frame(), tmp_path / "cat.csv")
    with pytest.raises(ConfigError, match=r"catalog\.id_column, ra_column and dec_column must name three"):
        read_catalog(path, ra_column="dec")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq", ".fits", ".fit", ".fits.gz"])
def test_happy_path_all_formats_keep_labels(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"ID": ["gal_a", "gal_b", "gal_c"], "RA_deg": [359.5, 0.0, 120.25],
                          "DEC_deg": [-89.0, 90.0, 12.5], "redshift": [0.05, 0.1, 0.2],
                          "galaxy10_class": np.array([3, 7, 1], dtype=np.int64), "survey": ["sdss", "legacy", "x"],
                          "ra": [1.0, 2.0, 3.0]})
    path = write_table(frame, tmp_path / f"cat{suffix}")
    out = tmp_path / "results" / "catalog.parquet"
    table = normalise_catalog(path, out, id_column="ID", ra_column="RA_deg", dec_column="DEC_deg",
                              split_fractions=SPLIT, seed=7)
    assert list(table.columns) == ["object_id", "ra", "dec", "split", "redshift", "galaxy10_class", "survey",
                                   "ra_original"]
    assert table["object_id"].tolist() == ["gal_a", "gal_b", "gal_c"]
    assert table["ra"].dtype == np.float64 and table["dec"].dtype == np.float64
    assert table["ra"].tolist() == [359.5, 0.0, 120.25]
    assert table["survey"].tolist() == ["sdss", "legacy", "x"]
    assert table["galaxy10_class"].tolist() == [3, 7, 1]
    assert table["ra_original"].tolist() == [1.0, 2.0, 3.0]
    assert set(table["split"]) <= {"train", "val", "test"}
    for column in table.columns:  # FITS big-endian columns come back native
        dtype = table[column].dtype
        assert not isinstance(dtype, np.dtype) or dtype.isnative
    written = pd.read_parquet(out)
    pd.testing.assert_frame_equal(written, table, check_dtype=False)
    assert written["object_id"].tolist() == table["object_id"].tolist()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".fits"])
def test_int64_sdss_ids_round_trip_exactly(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"objid": np.array(SDSS_IDS, dtype=np.int64), "ra": [1.0, 2.0, 3.0, 4.0],
                          "dec": [0.0, 1.0, 2.0, 3.0]})
    path = write_table(frame, tmp_path / f"sdss{suffix}")
    out = tmp_path / "catalog.parquet"
    table = normalise_catalog(path, out, id_column="objid", split_fractions=SPLIT, seed=1)
    expected = [str(value) for value in SDSS_IDS]
    assert expected[0] == "1237648720693755918"
    assert table["object_id"].tolist() == expected
    assert pd.read_parquet(out)["object_id"].tolist() == expected
    assert not any("e+" in value or "." in value for value in table["object_id"])


def test_uint64_and_nullable_int_ids(tmp_path: Path) -> None:
    frame = pd.DataFrame({"object_id": pd.array([2**64 - 1, 5], dtype="UInt64"), "ra": [1.0, 2.0], "dec": [0, 1]})
    table = read_catalog(write_table(frame, tmp_path / "cat.parquet"))
    assert table["object_id"].tolist() == ["18446744073709551615", "5"]


def test_parquet_id_in_pandas_index_is_found(tmp_path: Path) -> None:
    good_frame().set_index("object_id").to_parquet(tmp_path / "cat.parquet")
    assert read_catalog(tmp_path / "cat.parquet")["object_id"].tolist() == ["g1", "g2", "g3", "g4", "g5"]


# --- splits --------------------------------------------------------------------------------------------------

def test_split_is_deterministic_and_order_independent() -> None:
    ids = [f"obj{i:05d}" for i in range(2000)]
    first = assign_split(ids, SPLIT, seed=3)
    assert (assign_split(ids, SPLIT, seed=3) == first).all()
    order = np.random.default_rng(0).permutation(len(ids))
    shuffled = assign_split([ids[i] for i in order], SPLIT, seed=3)
    assert dict(zip([ids[i] for i in order], shuffled)) == dict(zip(ids, first))
    assert (assign_split(ids, SPLIT, seed=4) != first).mean() > 0.2


def test_adding_objects_never_moves_existing_ones() -> None:
    ids = [f"obj{i:05d}" for i in range(1000)]
    before = assign_split(ids, SPLIT, seed=9)
    after = assign_split([f"new{i}" for i in range(500)] + ids + [f"late{i}" for i in range(500)], SPLIT, seed=9)
    assert (after[500:1500] == before).all()
    assert (assign_split(ids[:1], SPLIT, seed=9) == before[:1]).all()


def test_split_fractions_on_20k_ids() -> None:
    labels = assign_split([str(1237648720693755918 + i) for i in range(20_000)], SPLIT, seed=42)
    for split, wanted in SPLIT.items():
        assert abs((labels == split).mean() - wanted) < 0.03
    assert set(assign_split(range(5000), {"train": 0.5, "val": 0.5, "test": 0.0}, 0)) == {"train", "val"}
    assert set(assign_split(range(100), {"train": 1.0}, 0)) == {"train"}
    assert assign_split([], SPLIT, 0).shape == (0,)


@pytest.mark.parametrize(("fractions", "message"), [
    ({"train": 0.7, "val": 0.1, "test": 0.1},
     r"catalog\.split fractions must sum to 1 \(got train \+ val \+ test = 0\.9\)"),
    ({"train": 1.2, "val": -0.1, "test": -0.1}, r"catalog\.split\.train must be a number in \[0, 1\] \(got 1\.2\)"),
    ({"train": 0.5, "val": "0.5"}, r"catalog\.split\.val must be a number in \[0, 1\]"),
    ({"train": 0.5, "holdout": 0.5}, r"catalog\.split has unknown split 'holdout' \(allowed: train, val, test\)"),
])
def test_bad_split_fractions(tmp_path: Path, fractions: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        assign_split(["a"], fractions, 0)
    path = write_table(good_frame(), tmp_path / "cat.csv")
    with pytest.raises(ConfigError, match=message):
        normalise_catalog(path, tmp_path / "out" / "catalog.parquet", split_fractions=fractions, seed=0)
    assert not (tmp_path / "out").exists()


# --- cross-match ---------------------------------------------------------------------------------------------

def planted(n: int = 40, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A catalogue and a label table: even rows have a label 0.5" away, odd rows one 5" away (random directions)."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    ra[0] = 359.99995  # a pair across ra = 0
    dec = rng.uniform(-80, 80, n)
    catalog = pd.DataFrame({"object_id": [f"c{i}" for i in range(n)], "ra": ra, "dec": dec})
    offset_arcsec = np.where(np.arange(n) % 2 == 0, 0.5, 5.0)
    angle = rng.uniform(0, 2 * np.pi, n)
    label_dec = dec + offset_arcsec * np.sin(angle) / 3600
    label_ra = (ra + offset_arcsec * np.cos(angle) / 3600 / np.cos(np.radians(dec))) % 360
    labels = pd.DataFrame({"ra": label_ra, "dec": label_dec, "object_id": [f"gz{i}" for i in range(n)],
                           "smooth_fraction": np.linspace(0, 1, n)})
    return catalog, labels.sample(frac=1.0, random_state=1)


def test_crossmatch_finds_half_arcsec_counterparts_and_rejects_five_arcsec() -> None:
    catalog, labels = planted()
    matched = crossmatch_labels(catalog, labels, radius_arcsec=1.0)
    assert list(matched.columns) == ["object_id", "ra", "dec", "ra_label", "dec_label", "object_id_label",
                                     "smooth_fraction", "match_separation_arcsec"]
    even = np.arange(len(catalog)) % 2 == 0
    assert matched.loc[even, "object_id_label"].tolist() == [f"gz{i}" for i in range(0, len(catalog), 2)]
    np.testing.assert_allclose(matched.loc[even, "match_separation_arcsec"], 0.5, atol=1e-3)
    assert matched.loc[~even, ["object_id_label", "smooth_fraction", "match_separation_arcsec"]].isna().all().all()
    assert matched["object_id"].tolist() == catalog["object_id"].tolist()
    wide = crossmatch_labels(catalog, labels, radius_arcsec=6.0)
    assert wide["object_id_label"].tolist() == [f"gz{i}" for i in range(len(catalog))]


def test_label_claimed_by_two_objects_goes_to_the_closest() -> None:
    catalog = pd.DataFrame({"object_id": ["far", "near", "alone"], "ra": [10.0, 10.0, 50.0],
                            "dec": [0.0 + 0.8 / 3600, 0.0 + 0.3 / 3600, 0.0]})
    labels = pd.DataFrame({"ra": [10.0], "dec": [0.0], "label": ["spiral"]})
    matched = crossmatch_labels(catalog, labels, radius_arcsec=1.0)
    assert matched["label"].tolist()[1] == "spiral"
    assert matched["label"].isna().tolist() == [True, False, True]


def test_crossmatch_rejects_bad_radius_and_labels() -> None:
    catalog, labels = planted(4)
    with pytest.raises(ConfigError, match=r"catalog\.match_radius_arcsec must be a number > 0 \(got -1\)"):
        crossmatch_labels(catalog, labels, -1)
    with pytest.raises(DataError, match=r"labels table: missing column 'RA' .*set label_ra; did you mean 'ra'\?"):
        crossmatch_labels(catalog, labels, 1.0, label_ra="RA")


def test_normalise_with_labels_file(tmp_path: Path) -> None:
    catalog, labels = planted()
    catalog_path = write_table(catalog, tmp_path / "cat.fits")
    labels_path = write_table(labels, tmp_path / "gz.csv")
    out = tmp_path / "results" / "catalog.parquet"
    table = normalise_catalog(catalog_path, out, split_fractions=SPLIT, seed=0, labels_path=labels_path,
                              match_radius_arcsec=1.0)
    assert table["match_separation_arcsec"].notna().sum() == len(catalog) // 2
    pd.testing.assert_frame_equal(pd.read_parquet(out), table, check_dtype=False)


def test_bad_labels_file_writes_nothing(tmp_path: Path) -> None:
    catalog, labels = planted()
    catalog_path = write_table(catalog, tmp_path / "cat.csv")
    labels.loc[labels.index[0], "dec"] = 91.0
    labels_path = write_table(labels, tmp_path / "gz.parquet")
    out = tmp_path / "results" / "catalog.parquet"
    with pytest.raises(DataError, match=r"^labels table .*gz\.parquet: 1 row with 'dec' outside \[-90, 90\]"):
        normalise_catalog(catalog_path, out, split_fractions=SPLIT, seed=0, labels_path=labels_path)
    assert_nothing_written(out)


def test_missing_labels_file_names_the_labels_setting(tmp_path: Path) -> None:
    catalog_path = write_table(good_frame(), tmp_path / "cat.csv")
    out = tmp_path / "results" / "catalog.parquet"
    with pytest.raises(DataError, match=r"^labels table .*gz\.fits: file not found \(set catalog\.labels"):
        normalise_catalog(catalog_path, out, split_fractions=SPLIT, seed=0, labels_path=tmp_path / "gz.fits")
    assert_nothing_written(out)


def test_angle_units_of_fits_and_ecsv_coordinates_become_degrees(tmp_path: Path) -> None:
    from astropy.io import fits

    frame = good_frame(3)
    hdu = fits.table_to_hdu(Table.from_pandas(frame.assign(ra=[1.0, 2.0, 23.5], dec=[-0.5, 0.0, 0.25])))
    hdu.header["TUNIT2"], hdu.header["TUNIT3"] = "hourangle", "rad"  # astropy cannot write hourangle to FITS itself
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "cat.fits")
    table = read_catalog(tmp_path / "cat.fits")
    np.testing.assert_allclose(table["ra"], [15.0, 30.0, 352.5])
    np.testing.assert_allclose(table["dec"], np.degrees([-0.5, 0.0, 0.25]))
    ecsv = Table.from_pandas(frame.assign(ra=[600.0, 1200.0, 60.0], dec=[-3600.0, 0.0, 7200.0]))
    ecsv["ra"].unit, ecsv["dec"].unit = "arcmin", "arcsec"
    ecsv.write(tmp_path / "cat.ecsv", format="ascii.ecsv")
    table = read_catalog(tmp_path / "cat.ecsv")
    np.testing.assert_allclose(table["ra"], [10.0, 20.0, 1.0])
    np.testing.assert_allclose(table["dec"], [-1.0, 0.0, 2.0])
    # Degrees (and no unit) are kept as they are; a labels table's units are converted the same way.
    ecsv["ra"].unit, ecsv["dec"].unit = "deg", None
    ecsv["ra"] = [10.0, 20.0, 1.0]
    ecsv["dec"] = [-1.0, 0.0, 2.0]
    ecsv.write(tmp_path / "plain.ecsv", format="ascii.ecsv")
    np.testing.assert_allclose(read_catalog(tmp_path / "plain.ecsv")["ra"], [10.0, 20.0, 1.0])
    labels = Table({"ra": np.radians([10.0]), "dec": np.radians([-1.0]), "morph": ["S"]})
    labels["ra"].unit = labels["dec"].unit = "rad"
    labels.write(tmp_path / "labels.fits")
    out = tmp_path / "catalog.parquet"
    matched = normalise_catalog(tmp_path / "plain.ecsv", out, split_fractions=SPLIT, seed=0,
                                labels_path=tmp_path / "labels.fits")
    assert matched.loc[0, "morph"] == "S" and matched["morph"].notna().sum() == 1
