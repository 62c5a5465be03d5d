"""Reading the sheets people keep: XLSX and CSV, as a header and rows walked without holding them.

XLSX: python-calamine (fast; the cached values of formulas) for sheets up to ``STREAM_XML_BYTES``
of sheet XML, a constant-memory stream above that; a merged cell's value counts in every cell it
covers. CSV: UTF-8, UTF-8 with BOM or GBK (as GB18030), detected; `,` `;` or tab. A sheet over
``max_rows()`` data rows is refused before its rows are read. Used by engine/ticket_import.py.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import engine.ticket_import_messages  # noqa: F401  (registers the messages)
from engine.errors import InputError

#: Excel's own limit is 1,048,576 rows including the header.
DEFAULT_MAX_ROWS = 1_048_575
MAX_ROWS_ENV = "GONGDAN_IMPORT_MAX_ROWS"
#: XLSX sheets with more XML than this are streamed (constant memory) instead of read by calamine.
STREAM_XML_BYTES = 256 * 1024 * 1024
STREAM_ENV = "GONGDAN_IMPORT_STREAM_BYTES"


#: An uploaded sheet may be this large (a 100,000-row sheet is well over the 16 MiB of other requests).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_BYTES_ENV = "GONGDAN_IMPORT_MAX_BYTES"


def _positive(name: str, default: int) -> int:
    raw = (os.environ.get(name) or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else default


def max_rows() -> int:
    return _positive(MAX_ROWS_ENV, DEFAULT_MAX_ROWS)


def max_bytes() -> int:
    """The size limit of an uploaded sheet (GONGDAN_IMPORT_MAX_BYTES, else 256 MiB)."""
    return _positive(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)


def cell_text(value: Any) -> str:
    """A cell as text: whole floats without ``.0`` (Excel keeps phone numbers as floats)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


@dataclass
class Sheet:
    """A header and a way to walk the data rows again (from any row on), without holding them."""

    name: str
    header: list[str]
    total_rows: int
    walk: Callable[[], Iterator[list[Any]]]  # the data rows, from the first

    def rows(self, skip: int = 0) -> Iterator[tuple[int, list[Any]]]:
        """(sheet row number, values) of the data rows after the first ``skip``; row 1 is the header."""
        for index, values in enumerate(self.walk()):
            if index >= skip:
                yield index + 2, values


def open_sheet(path: Path, name: str, limit: int | None = None) -> Sheet:
    """The sheet in ``path`` (its format from ``name``'s extension); InputError for what cannot be read."""
    ext = Path(name).suffix.lower()
    opener = OPENERS.get(ext)
    if opener is None:
        raise InputError("import.unknown_format", name=name)
    sheet = opener(Path(path), name)
    limit = limit or max_rows()
    if sheet.total_rows > limit:
        raise InputError("import.too_many_rows", rows=sheet.total_rows, limit=limit)
    return sheet


def _header(values: Sequence[Any], name: str) -> list[str]:
    header = [cell_text(v) for v in values]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise InputError("import.empty", name=name)
    header = [h or f"#{i + 1}" for i, h in enumerate(header)]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise InputError("import.duplicate_header", column=h)
        seen.add(h)
    return header


_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')


def _xlsx_rows_declared(path: Path) -> int | None:
    """The last row the first sheet declares (its ``<dimension>``), read without loading the sheet,
    so that an oversized sheet is refused before it costs memory."""
    try:
        with zipfile.ZipFile(path) as z, z.open(_first_sheet(z)) as f:
            found = _DIMENSION.search(f.read(4096))
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return int(found.group(1)) if found else None


def _open_xlsx(path: Path, name: str) -> Sheet:
    """Sheets up to ``xlsx_stream_bytes()`` of XML are read by python-calamine (fast, the cells held
    in memory while read); larger ones are streamed row by row in constant memory."""
    declared = _xlsx_rows_declared(path)
    if declared is not None and declared - 1 > max_rows():
        raise InputError("import.too_many_rows", rows=declared - 1, limit=max_rows())
    try:
        with zipfile.ZipFile(path) as z:
            member = _first_sheet(z)
            size = z.getinfo(member).file_size
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise InputError("import.unreadable", name=name, reason=str(exc)[:200]) from None
    if size > xlsx_stream_bytes():
        return _stream_xlsx(path, name, member)
    return _calamine_xlsx(path, name)


def xlsx_stream_bytes() -> int:
    raw = os.environ.get(STREAM_ENV)
    return int(raw) if raw and raw.isdigit() else STREAM_XML_BYTES


Ranges = Sequence[tuple[tuple[int, int], tuple[int, int]]]
Spans = Mapping[int, list[tuple[int, int, int]]]


def _merged_spans(merged: Ranges) -> dict[int, list[tuple[int, int, int]]]:
    """Merged ranges by the rows they cover: (first row, first col, last col), 0-based."""
    spans: dict[int, list[tuple[int, int, int]]] = {}
    for (r0, c0), (r1, c1) in merged:
        for r in range(r0, r1 + 1):
            spans.setdefault(r, []).append((r0, c0, c1))
    return spans


def _filled(
    rows: Iterator[tuple[int, list[Any]]], spans: Spans, col0: int, width: int
) -> Iterator[list[Any]]:
    """The rows (absolute 0-based index, values from column ``col0``) padded to ``width``, with each
    merged range's top-left value in every cell the range covers."""
    tops: dict[tuple[int, int], Any] = {}
    for absolute, row in rows:
        values = list(row[:width]) + [""] * (width - len(row))
        for r0, c0, c1 in spans.get(absolute, ()):
            if absolute == r0 and 0 <= c0 - col0 < width:
                tops[(r0, c0)] = values[c0 - col0]
            if (r0, c0) in tops:
                for c in range(max(c0, col0), min(c1, col0 + width - 1) + 1):
                    values[c - col0] = tops[(r0, c0)]
        yield values


def _calamine_xlsx(path: Path, name: str) -> Sheet:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet = book.get_sheet_by_index(0)
        merged = list(sheet.merged_cell_ranges or ())
        row0, col0 = sheet.start or (0, 0)
        height = sheet.height
    except Exception as exc:  # calamine raises its own types for broken files
        raise InputError("import.unreadable", name=name, reason=str(exc)[:200]) from None
    if height == 0:
        raise InputError("import.empty", name=name)
    header = _header(next(iter(sheet.iter_rows()), []), name)
    spans = _merged_spans(merged)

    def walk() -> Iterator[list[Any]]:
        rows = ((row0 + i, row) for i, row in enumerate(sheet.iter_rows()) if i > 0)
        yield from _filled(rows, spans, col0, len(header))

    return Sheet(name, header, max(height - 1, 0), walk)


# ------------------------------------------------------------------------------- streamed XLSX
NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
#: Built-in number formats that show dates or times (incl. the CJK ones Excel uses in zh locales).
DATE_FORMATS = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})
#: What a number format code says literally (quoted text, [colours], escaped characters): not date parts.
_DATE_CODE = re.compile(r'(\[[^\]]*\]|"[^"]*"|\\.)')
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_ROW = re.compile(rb"<(?:\w+:)?row[\s>]")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _first_sheet(z: zipfile.ZipFile) -> str:
    """The zip member of the workbook's first worksheet (by the workbook's order, not the name)."""
    try:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        first = book.find(f"{NS}sheets/{NS}sheet")
        rid = first.get(f"{REL_NS}id") if first is not None else None
        for rel in rels:
            if rel.get("Id") == rid:
                target = rel.get("Target", "")
                return target.lstrip("/") if target.startswith("/") else "xl/" + target
    except (KeyError, ET.ParseError):
        pass
    names = sorted(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
    if not names:
        raise KeyError("no worksheet")
    return names[0]


def _column(ref: str) -> int:
    """``AB12`` → 27 (0-based column of a cell reference)."""
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + ord(ch.upper()) - 64
    return n - 1


def _date_styles(z: zipfile.ZipFile) -> frozenset[int]:
    """Indexes of the cell styles whose number format shows a date or a time."""
    try:
        styles = ET.fromstring(z.read("xl/styles.xml"))
    except (KeyError, ET.ParseError):
        return frozenset()
    custom = {}
    for fmt in styles.iter(f"{NS}numFmt"):
        code = _DATE_CODE.sub("", fmt.get("formatCode", "")).lower()
        custom[int(fmt.get("numFmtId", "0"))] = code != "general" and any(c in code for c in "ymdhs")
    xfs = styles.find(f"{NS}cellXfs")
    out = set()
    for index, xf in enumerate(xfs if xfs is not None else ()):
        fid = int(xf.get("numFmtId", "0"))
        if fid in DATE_FORMATS or custom.get(fid):
            out.add(index)
    return frozenset(out)


def _shared_strings(z: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in z.namelist():
        return []
    out = []
    with z.open("xl/sharedStrings.xml") as f:
        for _, el in ET.iterparse(f):
            if el.tag == f"{NS}si":
                out.append("".join(t.text or "" for t in el.iter(f"{NS}t")))
                el.clear()
    return out


def _scan(z: zipfile.ZipFile, member: str) -> tuple[int, list[tuple[tuple[int, int], tuple[int, int]]]]:
    """One pass over the raw sheet XML: how many rows it has, and its merged ranges (which Excel
    writes after the rows, so they must be known before the rows are read)."""
    overlap = 256  # longer than any match: one cut by a chunk's end is found in the next window
    rows, merged, tail = 0, [], b""

    def window(data: bytes, end: int) -> None:
        nonlocal rows
        rows += sum(1 for m in _ROW.finditer(data) if m.start() < end)
        for m in _MERGE.finditer(data):
            if m.start() < end:
                c0, r0, c1, r1 = m.groups()
                merged.append(((int(r0) - 1, _column(c0.decode())), (int(r1) - 1, _column(c1.decode()))))

    with z.open(member) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            data = tail + chunk
            cut = max(0, len(data) - overlap)
            window(data, cut)
            tail = data[cut:]
    window(tail, len(tail))
    return rows, merged


def _stream_xlsx(path: Path, name: str, member: str) -> Sheet:
    """A large sheet, streamed: shared strings and styles first, then one row at a time (iterparse,
    each row cleared once read), so memory stays flat whatever the number of rows."""
    try:
        with zipfile.ZipFile(path) as z:
            strings = _shared_strings(z)
            dates = _date_styles(z)
            total, merged = _scan(z, member)
            book = z.read("xl/workbook.xml") if "xl/workbook.xml" in z.namelist() else b""
            date1904 = b'date1904="1"' in book or b'date1904="true"' in book
    except (zipfile.BadZipFile, OSError, KeyError, ET.ParseError) as exc:
        raise InputError("import.unreadable", name=name, reason=str(exc)[:200]) from None
    if total - 1 > max_rows():
        raise InputError("import.too_many_rows", rows=total - 1, limit=max_rows())
    epoch = dt.datetime(1904, 1, 1) if date1904 else EXCEL_EPOCH

    def value(c: Any) -> Any:
        kind = c.get("t")
        if kind == "inlineStr":
            return "".join(t.text or "" for t in c.iter(f"{NS}t"))
        v = c.find(f"{NS}v")
        text = v.text if v is not None else None
        if text is None:
            return ""
        if kind == "s":
            return strings[int(text)]
        if kind in ("str", "e"):
            return text
        if kind == "b":
            return text == "1"
        number = float(text)
        if c.get("s") and int(c.get("s")) in dates:
            return epoch + dt.timedelta(milliseconds=round(number * 86_400_000))  # Excel keeps ms
        return number

    def cells() -> Iterator[tuple[int, list[Any]]]:
        with zipfile.ZipFile(path) as z, z.open(member) as f:
            context = ET.iterparse(f, events=("start", "end"))
            _, parent = next(context)
            expected = 0
            for event, el in context:
                if event == "start":
                    if el.tag == f"{NS}sheetData":
                        parent = el  # rows are its children: each is dropped once read
                    continue
                if el.tag != f"{NS}row":
                    continue
                index = int(el.get("r", expected + 1)) - 1
                while expected < index:  # rows Excel left out: they are empty
                    yield expected, []
                    expected += 1
                row: list[Any] = []
                for c in el:
                    col = _column(c.get("r", "")) if c.get("r") else len(row)
                    row.extend([""] * (col - len(row)))
                    row.append(value(c))
                yield index, row
                expected = index + 1
                parent.clear()

    rows = cells()
    try:
        first = next(rows, (0, []))
    except ET.ParseError as exc:
        raise InputError("import.unreadable", name=name, reason=str(exc)[:200]) from None
    header = _header(first[1], name)
    spans = _merged_spans(merged)

    def walk() -> Iterator[list[Any]]:
        found = cells()
        next(found, None)
        yield from _filled(found, spans, 0, len(header))

    return Sheet(name, header, max(total - 1, 0), walk)


def detect_encoding(path: Path, name: str) -> str:
    """utf-8-sig when a BOM says so, else UTF-8 if every byte decodes, else GBK (as GB18030, its
    superset); anything else is refused with the line where decoding failed."""
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    failed_line = 1
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        line = 1
        chunk = b""
        try:
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    decoder.decode(chunk)
                    line += chunk.count(b"\n")
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            failed_line = max(failed_line, line + chunk[: max(exc.start, 0)].count(b"\n"))
    raise InputError("import.bad_encoding", name=name, line=failed_line)


def _open_csv(path: Path, name: str) -> Sheet:
    encoding = detect_encoding(path, name)
    with path.open(encoding=encoding, newline="") as f:
        sample = f.read(64 * 1024)
    try:
        dialect: Any = csv.Sniffer().sniff(sample.split("\n", 1)[0] or ",", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel

    def reader() -> Iterator[list[str]]:
        with path.open(encoding=encoding, newline="") as f:
            yield from csv.reader(f, delimiter=dialect.delimiter, quotechar='"')

    try:
        rows = reader()
        header = _header(next(rows, []), name)
        total = sum(1 for _ in rows)
    except csv.Error as exc:
        raise InputError("import.unreadable", name=name, reason=str(exc)[:200]) from None
    width = len(header)

    def walk() -> Iterator[list[Any]]:
        rows = reader()
        next(rows, None)
        for row in rows:
            yield (row[:width] + [""] * (width - len(row))) if len(row) != width else row

    return Sheet(name, header, total, walk)


OPENERS: dict[str, Callable[[Path, str], Sheet]] = {".xlsx": _open_xlsx, ".csv": _open_csv}


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "MAX_BYTES_ENV",
    "MAX_ROWS_ENV",
    "OPENERS",
    "STREAM_ENV",
    "Sheet",
    "cell_text",
    "max_bytes",
    "max_rows",
    "open_sheet",
]
