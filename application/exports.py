"""Exports: a site's hits as CSV, an account's data as a zip of CSVs, both streamed.

Rows come in as an iterable (a server-side cursor) and leave as byte chunks, so a
million hits never sit in memory at once. The CSV is made for spreadsheet programs:
a UTF-8 byte order mark (Excel reads UTF-8 then), CRLF line ends, quoting where
needed, and cells that a spreadsheet would run as a formula (= + - @, tab, CR) are
prefixed with an apostrophe (CSV injection). Spreadsheets also read the fullwidth,
small and super- or subscript forms of = + - @ as those (they are the same once
NFKC-normalised), and skip leading spaces: such cells are prefixed too.
"""

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.hits import EXPORTED_HIT_FIELDS

BOM = "\ufeff"
CHUNK_BYTES = 64 * 1024
_SIGNS = ("=", "+", "-", "@")
_FORMULA_STARTS = (*_SIGNS, "\t", "\r")

# Times are written and named in UTC.
HIT_COLUMNS = tuple(f"{name}_utc" if name == "created_at" else name for name in EXPORTED_HIT_FIELDS)
EVENT_COLUMNS = (
    "id", "created_at_utc", "name", "value", "path", "url", "referrer", "source",
    "country", "browser", "platform",
)  # fmt: skip
KUDO_COLUMNS = ("id", "created_at_utc", "uid", "path", "channel")


def cell(value: Any) -> str:
    """One value as a spreadsheet-safe cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return "'" + text if _starts_formula(text) else text


def _starts_formula(text: str) -> bool:
    if not text:
        return False
    if text.startswith(_FORMULA_STARTS):
        return True
    first = text[0]
    if first.isascii() and not first.isspace():
        return False  # most cells: a path, a URL, a name
    for char in text:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            continue  # spaces, controls and invisible marks before the first sign
        return unicodedata.normalize("NFKC", char).startswith(_SIGNS)
    return False


def _value(row: Any, column: str) -> Any:
    name = column.removesuffix("_utc")
    if isinstance(row, dict):
        return row.get(name)
    return getattr(row, name, None)


def csv_chunks(columns: Sequence[str], rows: Iterable[Any]) -> Iterator[bytes]:
    """The CSV file, in chunks of about CHUNK_BYTES; each row read by column name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    buffer.write(BOM)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(_value(row, c)) for c in columns])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


class _Sink:
    """A write-only, unseekable file: zipfile then writes data descriptors as it goes."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def zip_chunks(files: Iterable[tuple[str, Iterable[bytes]]]) -> Iterator[bytes]:
    """A zip archive of the named files, each given as byte chunks, streamed as it is built."""
    sink = _Sink()
    stamp = datetime.now(UTC).timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    data = sink.take()
                    if data:
                        yield data
            yield sink.take()
    yield sink.take()
