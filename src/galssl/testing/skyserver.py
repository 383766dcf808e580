"""SDSS services of the mock sky server: SkyServer SQL / CrossID searches and SAS imaging frames.

Frames tile the sky deterministically: Dec stripes of height ``TILE_STEP_DEG`` and, within a stripe, RA cells
of equal width. A cell's frame is a north-up TAN image of ``FRAME_SIZE_PX`` square pixels at 0.396"/px
centred on the cell (real frames are 2048 x 1489 and follow the scan direction); frames overlap their
neighbours by 10%, so every position with |Dec| < 89° lies at least 9" inside its own frame. Cell
(stripe, column) is run = ``RUN0`` + stripe, camcol = 1 + column // 1200, field = 11 + column % 1200, rerun 301.

PhotoObj rows are the mock catalogue objects (field sources are not listed), each in the frame of the cell
containing it. The SQL is parsed just enough for what astroquery.sdss generates: the SELECT list (columns
``COLUMNS``, optionally ``table.``-prefixed and ``AS``-aliased, plus ``dbo.fPhotoTypeN(p.type)``), ``TOP n``,
``DISTINCT``, and one of: rectangles ``(p.ra BETWEEN a AND b) AND (p.dec BETWEEN c AND d)`` (or the RA-wrap
form with ``>=``/``<=``) joined by OR, ``fGetNearbyObjEq(ra, dec, radius_arcmin)``, or ``p.run=``,
``p.camcol=``, ``p.field=`` equalities; ``dbo.fDocColumns('PhotoObjAll')`` answers the column list as JSON.
Results are CSV whatever ``format`` says (JSON only for fDocColumns). Anything else is answered with a 400 whose
text starts with ``error_message`` (astroquery raises it).
"""

from __future__ import annotations

import bz2
import io
import json
import math
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from galssl.instruments import load_instrument
from galssl.mocksky.render import make_wcs
from galssl.mocksky.sky import MockSky
from galssl.mocksky.truth import object_rng
from galssl.testing.services import FITSIO_COMMENTS, NotFound, Reply, render_bands

FRAME_SIZE_PX = 512
PIXEL_SCALE_ARCSEC = 0.396
TILE_STEP_DEG = 0.9 * FRAME_SIZE_PX * PIXEL_SCALE_ARCSEC / 3600.0
N_STRIPES = math.ceil(180.0 / TILE_STEP_DEG)
RUN0, FIRST_FIELD, FIELDS_PER_CAMCOL, RERUN = 1000, 11, 1200, 301
COLUMNS = ("objid", "ra", "dec", "run", "rerun", "camcol", "field", "obj", "type", "mode", "distance")
SPEC_COLUMNS = ("specobjid", "bestobjid")
FRAME_PATH = re.compile(r"/dr(\d+)/[\w/.-]*?photoObj/frames/(\d+)/(\d+)/(\d)/"
                        r"frame-([a-z])-(\d{6})-(\d)-(\d{4})\.fits(\.bz2)?$")
_NUM = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_RECTANGLE = re.compile(rf"\(\s*\(?\s*p\.ra\s+BETWEEN\s+{_NUM}\s+AND\s+{_NUM}\s*\)|"
                        rf"\(\s*\(\s*\(\s*p\.ra\s*>=\s*{_NUM}\s*\)\s*OR\s*\(\s*p\.ra\s*<=\s*{_NUM}\s*\)\s*\)", re.I)
_DEC_RANGE = re.compile(rf"\s*AND\s*\(\s*p\.dec\s+BETWEEN\s+{_NUM}\s+AND\s+{_NUM}\s*\)", re.I)
_NEARBY = re.compile(rf"fGetNearbyObjEq\s*\(\s*{_NUM}\s*,\s*{_NUM}\s*,\s*{_NUM}\s*\)", re.I)


class SqlError(Exception):
    """A query the mock SkyServer does not understand (answered as ``error_message: ...``)."""


@dataclass(frozen=True)
class Frame:
    """One mock SDSS imaging frame (run, camcol, field; rerun 301) and its tile on the sky."""

    run: int
    camcol: int
    field: int

    @property
    def stripe(self) -> int:
        return self.run - RUN0

    @property
    def column(self) -> int:
        return (self.camcol - 1) * FIELDS_PER_CAMCOL + self.field - FIRST_FIELD

    def centre(self) -> tuple[float, float]:
        """Frame centre (ra, dec) in degrees."""
        dec = _stripe_dec(self.stripe)
        return (self.column + 0.5) * 360.0 / _stripe_columns(self.stripe), dec

    def wcs(self) -> WCS:
        ra, dec = self.centre()
        return make_wcs(ra, dec, PIXEL_SCALE_ARCSEC, (FRAME_SIZE_PX, FRAME_SIZE_PX))


def _stripe_dec(stripe: int) -> float:
    return min(90.0, -90.0 + (stripe + 0.5) * TILE_STEP_DEG)


def _stripe_columns(stripe: int) -> int:
    return max(1, math.ceil(360.0 * math.cos(math.radians(_stripe_dec(stripe))) / TILE_STEP_DEG))


def frame_at(ra_deg: float, dec_deg: float) -> Frame:
    """The frame whose tile holds (ra, dec)."""
    stripe = min(N_STRIPES - 1, int((dec_deg + 90.0) // TILE_STEP_DEG))
    n_columns = _stripe_columns(stripe)
    column = min(n_columns - 1, int((ra_deg % 360.0) * n_columns // 360.0))
    return Frame(RUN0 + stripe, 1 + column // FIELDS_PER_CAMCOL, FIRST_FIELD + column % FIELDS_PER_CAMCOL)


def frame_exists(frame: Frame) -> bool:
    return (0 <= frame.stripe < N_STRIPES and 1 <= frame.camcol <= 6
            and FIRST_FIELD <= frame.field < FIRST_FIELD + FIELDS_PER_CAMCOL
            and frame.column < _stripe_columns(frame.stripe))


def object_id_number(frame: Frame, index: int) -> int:
    """SDSS-style objID bits: skyVersion 2, rerun, run, camcol, field, object number."""
    return (2 << 59) | (RERUN << 48) | (frame.run << 32) | (frame.camcol << 29) | (frame.field << 16) | (index & 0xFFFF)


# -- imaging frames (SAS) ------------------------------------------------------------------------------------------
def sdss_frame(sky: MockSky, path: str) -> Reply:
    """``.../dr17/eboss/photoObj/frames/301/{run}/{camcol}/frame-{band}-{run:06d}-{camcol}-{field:04d}.fits[.bz2]``.

    Laid out as a real corrected frame (recorded: tests/data/sdss_frame_header.txt): a float32 image in nanomaggies
    in the primary HDU, whose header has the fitsio preamble, RUN, FRAME, STRIPE, FILTER, CAMCOL, RADECSYS, a TAN
    WCS with a CD matrix, NMGY (nanomaggies per count; counts here are electrons) and RERUN (a string);
    then HDU 1 the calibration vector (nanomaggies per count per column), HDU 2 the sky (ALLSKY, XINTERP, YINTERP)
    and HDU 3 the astrometry row. No BUNIT and no PSF width: real frames carry neither. Seeing varies frame to frame.
    """
    match = FRAME_PATH.search(path)
    if match is None:
        raise NotFound(f"no such file: {path}")
    _, rerun, run, camcol, band, run_name, camcol_name, field, compressed = match.groups()
    frame = Frame(int(run), int(camcol), int(field))
    if int(rerun) != RERUN or int(run_name) != frame.run or int(camcol_name) != frame.camcol or not frame_exists(frame):
        raise NotFound(f"no such frame: {path} (mock frames: rerun {RERUN}, run = {RUN0} + Dec stripe)")
    spec = load_instrument("sdss").bands.get(band)
    if spec is None:
        raise NotFound(f"no such frame: {path} (SDSS bands are ugriz)")
    ids = f"{frame.run}|{frame.camcol}|{frame.field}"
    seeing = 10 ** object_rng(sky.seed, f"sdss-seeing|{ids}").normal(0, load_instrument("sdss").psf_fwhm_scatter_dex)
    wcs = frame.wcs()
    image = render_bands(sky, "sdss", [band], wcs, (FRAME_SIZE_PX, FRAME_SIZE_PX), "sdss-frame", seeing)[band]
    nmgy = 1.0 / spec.gain_e_per_nmgy()
    primary = fits.PrimaryHDU(image, frame_header(frame, band, wcs, nmgy))
    position = primary.header.index("NAXIS2") + 1
    cards = [("EXTEND", True, "FITS dataset may contain extensions")] + [("COMMENT", line) for line in FITSIO_COMMENTS]
    for offset, card in enumerate(cards):
        primary.header.insert(position + offset, card)
    hdus = fits.HDUList([primary, fits.ImageHDU(np.full(FRAME_SIZE_PX, nmgy, np.float32)), _sky_table(image, nmgy),
                         _astrometry_table(frame, band)])
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    body = buffer.getvalue()
    if compressed:
        return Reply(200, "application/x-bzip2", bz2.compress(body, 9))
    return Reply(200, "application/fits", body)


def frame_header(frame: Frame, band: str, wcs: WCS, nmgy: float) -> fits.Header:
    """The cards of a real frame's primary header that describe this frame, in the real order and wording."""
    cd = wcs.pixel_scale_matrix
    header = fits.Header()
    header["RUN"] = (frame.run, "Run number")
    header["FRAME"] = (frame.field, "Frame sequence number within the run")
    header["STRIPE"] = (frame.stripe, "Stripe index number (23 <--> eta=0)")
    header["EQUINOX"] = 2000.0
    header["FILTER"] = (band, "filter used")
    header["CAMCOL"] = (frame.camcol, "column in the imaging camera")
    header["RADECSYS"] = ("ICRS", "International Celestial Ref. System")
    header["CTYPE1"], header["CTYPE2"] = ("RA---TAN", "Coordinate type"), ("DEC--TAN", "Coordinate type")
    header["CUNIT1"], header["CUNIT2"] = ("deg", "Units"), ("deg", "Units")
    header["CRPIX1"], header["CRPIX2"] = (float(wcs.wcs.crpix[0]), "X of reference pixel"), (
        float(wcs.wcs.crpix[1]), "Y of reference pixel")
    header["CRVAL1"], header["CRVAL2"] = (float(wcs.wcs.crval[0]), "RA of reference pixel (deg)"), (
        float(wcs.wcs.crval[1]), "Dec of reference pixel (deg)")
    header["CD1_1"], header["CD1_2"] = (float(cd[0, 0]), "RA deg per column pixel"), (
        float(cd[0, 1]), "RA deg per row pixel")
    header["CD2_1"], header["CD2_2"] = (float(cd[1, 0]), "Dec deg per column pixel"), (
        float(cd[1, 1]), "Dec deg per row pixel")
    header["NMGY"] = (nmgy, "Calibration factor [nMgy per count]")
    header["RERUN"] = (str(RERUN), "rerun")
    return header


def _sky_table(image: np.ndarray, nmgy: float) -> fits.BinTableHDU:
    """HDU 2: the sky in counts on a coarse grid (ALLSKY, TDIM (x, y)) and the frame pixels' positions on it."""
    coarse = FRAME_SIZE_PX // 8
    sky_counts = np.full((1, coarse, coarse), float(np.median(image)) / nmgy, np.float32)
    interp = (np.arange(FRAME_SIZE_PX, dtype=np.float32) + 0.5) / 8 - 0.5
    columns = [fits.Column("ALLSKY", f"{coarse * coarse}E", dim=f"({coarse},{coarse})", array=sky_counts),
               fits.Column("XINTERP", f"{FRAME_SIZE_PX}E", array=interp[np.newaxis]),
               fits.Column("YINTERP", f"{FRAME_SIZE_PX}E", array=interp[np.newaxis])]
    return fits.BinTableHDU.from_columns(columns)


def _astrometry_table(frame: Frame, band: str) -> fits.BinTableHDU:
    """HDU 3: the frame's asTrans row (run, rerun, camcol, filter, field and the affine a-f terms)."""
    scale = PIXEL_SCALE_ARCSEC / 3600.0
    values = {"RUN": ("J", frame.run), "RERUN": ("3A", str(RERUN)), "CAMCOL": ("J", frame.camcol),
              "FILTER": ("1A", band), "FIELD": ("J", frame.field), "A": ("D", 0.0), "B": ("D", scale),
              "C": ("D", 0.0), "D": ("D", 0.0), "E": ("D", 0.0), "F": ("D", scale)}
    return fits.BinTableHDU.from_columns([fits.Column(name, fmt, array=np.array([value]))
                                          for name, (fmt, value) in values.items()])


# -- SkyServer searches ---------------------------------------------------------------------------------------------
def sql_search(sky: MockSky, params: dict[str, str]) -> Reply:
    """The SQL search (``x_results.aspx`` / ``SkyServerWS/SearchTools/SqlSearch``): ``cmd`` and ``format``."""
    try:
        sql = " ".join(params.get("cmd", "").split())
        if not sql:
            raise SqlError("missing parameter cmd (the SQL query)")
        docs = re.search(r"fDocColumns\s*\(\s*'(\w+)'\s*\)", sql, re.I)
        if docs:
            names = COLUMNS[:-1] if docs.group(1).lower() == "photoobjall" else SPEC_COLUMNS
            rows = [{"name": name, "unit": "", "ucd": "", "description": f"mock {name}"} for name in names]
            return Reply(200, "application/json", json.dumps([{"TableName": "Table1", "Rows": rows}]).encode("utf-8"))
        return _csv_reply(sky, sql, _sql_matches(sky, sql))
    except SqlError as error:
        return Reply.text(400, f"error_message: {error}")


def crossid_search(sky: MockSky, params: dict[str, str]) -> Reply:
    """The CrossID search (``X_Results.aspx`` POST): ``uquery``, ``radius`` (arcmin), ``upload``, ``firstcol``,
    ``photoScope`` (allObj: every object within radius; nearPrim: the nearest)."""
    try:
        sql = " ".join(params.get("uquery", "").split())
        try:
            radius_arcmin = float(params.get("radius", "0.5"))
            first = int(params.get("firstcol", "0"))
        except ValueError:
            raise SqlError("radius and firstcol must be numbers") from None
        if not 0 < radius_arcmin <= 3.0:
            raise SqlError(f"radius must be in (0, 3] arcmin (got {radius_arcmin})")
        matches: list[tuple[int, float]] = []
        for line in params.get("upload", "").strip().splitlines()[1:]:
            fields = line.replace(",", " ").split()
            if len(fields) < first + 2:
                continue
            try:
                ra, dec = float(fields[first]), float(fields[first + 1])
            except ValueError:
                raise SqlError(f"upload line {line.strip()!r} has no ra dec at column {first}") from None
            near = _nearby(sky, ra, dec, radius_arcmin)
            matches += near[:1] if params.get("photoScope", "allObj") == "nearPrim" else near
        return _csv_reply(sky, sql, matches)
    except SqlError as error:
        return Reply.text(400, f"error_message: {error}")


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """Fields of a multipart/form-data POST body (file parts as text), as requests sends them."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return fields


def _nearby(sky: MockSky, ra: float, dec: float, radius_arcmin: float) -> list[tuple[int, float]]:
    """Catalogue indices within a radius, nearest first, with distances in arcmin."""
    ra_r, dec_r = np.radians(sky.ra), np.radians(sky.dec)
    cos_d = (np.sin(dec_r) * math.sin(math.radians(dec)) +
             np.cos(dec_r) * math.cos(math.radians(dec)) * np.cos(ra_r - math.radians(ra)))
    distance = np.degrees(np.arccos(np.clip(cos_d, -1, 1))) * 60.0
    order = np.argsort(distance, kind="stable")
    return [(int(i), float(distance[i])) for i in order if distance[i] <= radius_arcmin]


def _sql_matches(sky: MockSky, sql: str) -> list[tuple[int, float]]:
    if re.search(r"\bSpecObj", sql, re.I):
        raise SqlError("the mock SkyServer has no spectra (SpecObj)")
    nearby = _NEARBY.search(sql)
    if nearby:
        ra, dec, radius = (float(v) for v in nearby.groups())
        return _nearby(sky, ra, dec, radius)
    inside = np.zeros(len(sky.ra), dtype=bool)
    found = False
    for match in _RECTANGLE.finditer(sql):
        dec_range = _DEC_RANGE.match(sql, match.end())
        if dec_range is None:
            continue
        found = True
        lo, hi, wrap_lo, wrap_hi = (None if v is None else float(v) for v in match.groups())
        in_ra = (sky.ra >= lo) & (sky.ra <= hi) if lo is not None else (sky.ra >= wrap_lo) | (sky.ra <= wrap_hi)
        d0, d1 = (float(v) for v in dec_range.groups())
        inside |= in_ra & (sky.dec >= d0) & (sky.dec <= d1)
    if found:
        return [(int(i), float("nan")) for i in np.flatnonzero(inside)]
    ids = {key: int(value) for key, value in re.findall(r"p\.(run|camcol|field)\s*=\s*(\d+)", sql, re.I)}
    if ids:
        return [(i, float("nan")) for i in range(len(sky.ra))
                if all(getattr(frame_at(sky.ra[i], sky.dec[i]), key.lower()) == value for key, value in ids.items())]
    raise SqlError("the mock SkyServer understands rectangles on p.ra/p.dec, fGetNearbyObjEq(ra, dec, r) "
                   "and p.run/p.camcol/p.field equalities only")


def _csv_reply(sky: MockSky, sql: str, matches: list[tuple[int, float]]) -> Reply:
    """CSV as SkyServer writes it: a '#Table1' line, a header line, one line per row."""
    select = re.match(r"SELECT\s+(DISTINCT\s+)?(?:TOP\s+(\d+)\s+)?(.+?)\s+FROM\s", sql, re.I)
    if select is None:
        raise SqlError("query must be SELECT ... FROM ...")
    distinct, top, items = select.groups()
    names, keys = [], []
    for item in items.split(","):
        parts = re.split(r"\s+AS\s+", item.strip(), maxsplit=1, flags=re.I)
        expression, alias = parts[0], parts[1] if len(parts) > 1 else ""
        base = "type" if "fphototypen" in expression.lower() else expression.split(".")[-1].strip().lower()
        if base not in COLUMNS:
            raise SqlError(f"column {expression.strip()!r} is not in the mock PhotoObjAll "
                           f"(columns: {', '.join(COLUMNS)})")
        keys.append("type_name" if "fphototypen" in expression.lower() else base)
        names.append(alias.strip() or expression.split(".")[-1].strip())
    lines, seen = [",".join(names)], set()
    for index, distance in matches:
        line = ",".join(_value(sky, key, index, distance) for key in keys)
        if distinct and line in seen:
            continue
        seen.add(line)
        lines.append(line)
        if top and len(lines) > int(top):
            break
    return Reply(200, "text/plain; charset=utf-8", ("#Table1\n" + "\n".join(lines) + "\n").encode("utf-8"))


def _value(sky: MockSky, key: str, index: int, distance: float) -> str:
    ra, dec = float(sky.ra[index]), float(sky.dec[index])
    frame = frame_at(ra, dec)
    if key in ("type", "type_name"):
        is_star = sky.build(sky.object_ids[index]).object_type == "star"
        return ("STAR" if is_star else "GALAXY") if key == "type_name" else ("6" if is_star else "3")
    values = {"objid": object_id_number(frame, index), "ra": repr(ra), "dec": repr(dec), "run": frame.run,
              "rerun": RERUN, "camcol": frame.camcol, "field": frame.field, "obj": index & 0xFFFF, "mode": 1,
              "distance": "" if math.isnan(distance) else repr(distance)}
    return str(values[key])
