"""Bounds on a workbook before openpyxl reads it: an .xlsx is a zip of XML, and a few MB of
deflate expand to gigabytes (issue 21: a 1 GiB inline cell, 1.1 MB compressed, took 2.2 GB to
import; a 4.3 MB one ended in ``MemoryError`` after 52 s).

:func:`check_archive` streams every member once, in fixed-size chunks, and refuses the
workbook — naming the part and what to do — when:

- it has more than :data:`MAX_MEMBERS` parts, or a part is not deflated or stored;
- a part's declared or actual uncompressed size is over its bound (:data:`MAX_SHEET_BYTES` for
  a worksheet, :data:`MAX_SHARED_STRINGS_BYTES` for the shared strings openpyxl keeps in memory,
  :data:`MAX_PART_BYTES` for any other part), or all parts together over :data:`MAX_TOTAL_BYTES`;
- any text between two XML tags (a cell's value, an attribute) is over :data:`MAX_TEXT_RUN`
  bytes — Excel itself holds at most 32,767 characters in a cell;
- a part declares a DTD or entities (``<!DOCTYPE``, ``<!ENTITY``), which workbooks never need.

Memory stays at one chunk plus a few bytes of carry-over, whatever the archive claims.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.i18n import _
from loaders.excel.sheets import ExcelImportError

MAX_MEMBERS = 10_000
MAX_SHEET_BYTES = 256 * 1024 * 1024
MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024
MAX_PART_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
#: 32,767 characters × 4 bytes of UTF-8 and then some for entities such as ``&amp;``
MAX_TEXT_RUN = 256 * 1024
CHUNK = 1024 * 1024
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")


def _bound(name: str) -> int:
    if name.startswith("xl/worksheets/") and name.endswith(".xml"):
        return MAX_SHEET_BYTES
    if name == "xl/sharedStrings.xml":
        return MAX_SHARED_STRINGS_BYTES
    return MAX_PART_BYTES


def _mib(n: int) -> str:
    return f"{n / 1_048_576:g} MiB"


def check_archive(path: Path) -> None:
    """Refuse a workbook whose parts would expand past the bounds (see the module).

    Raises
    ------
    ExcelImportError
        Naming the file, the part and the bound.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ExcelImportError(
                    [
                        _(
                            "{path}: {n} parts in the archive, over {most}",
                            path=path,
                            n=len(infos),
                            most=MAX_MEMBERS,
                        )
                    ]
                )
            total = 0
            for info in infos:
                total += _check_member(path, archive, info, MAX_TOTAL_BYTES - total)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise ExcelImportError(
            [
                _(
                    "{path}: not a readable .xlsx workbook ({error})",
                    path=path,
                    error=f"{exc.__class__.__name__}: {exc}",
                )
            ]
        ) from None


def _check_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, left: int) -> int:
    """The actual uncompressed size of ``info``, read in chunks and checked as it streams."""
    where = _("{path}: part {part}", path=path, part=repr(info.filename))
    hint = _("save the workbook again from Excel, or export it with kpigraph export excel")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ExcelImportError(
            [
                _(
                    "{where}: compressed with method {method}; {hint}",
                    where=where,
                    method=info.compress_type,
                    hint=hint,
                )
            ]
        )
    bound = min(_bound(info.filename), left)
    if info.file_size > bound:
        raise ExcelImportError(
            [
                _(
                    "{where} expands to {size}, over the limit of {bound} (from {compressed} "
                    "compressed); {hint}",
                    where=where,
                    size=_mib(info.file_size),
                    bound=_mib(bound),
                    compressed=_mib(info.compress_size),
                    hint=hint,
                )
            ]
        )
    size = 0
    run = 0  # bytes since the last '<': the text of one cell or attribute
    tail = b""
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            size += len(chunk)
            if size > bound or size > info.file_size:
                raise ExcelImportError(
                    [
                        _(
                            "{where} expands past {bound} (declared {size}); {hint}",
                            where=where,
                            bound=_mib(bound),
                            size=_mib(info.file_size),
                            hint=hint,
                        )
                    ]
                )
            window = tail + chunk
            if any(marker in window for marker in _FORBIDDEN):
                raise ExcelImportError(
                    [_("{where} declares a DTD or entities; {hint}", where=where, hint=hint)]
                )
            tail = window[-len(_FORBIDDEN[0]) :]
            pieces = chunk.split(b"<")  # the text between tags, in C
            if len(pieces) == 1:
                run += len(chunk)
            else:
                run = max(run + len(pieces[0]), max(map(len, pieces[1:-1]), default=0))
                if run <= MAX_TEXT_RUN:
                    run = len(pieces[-1])
            if run > MAX_TEXT_RUN:
                raise ExcelImportError(
                    [
                        _(
                            "{where} holds a cell or attribute of over {kib} KiB of text (Excel "
                            "holds at most 32,767 characters in a cell); {hint}",
                            where=where,
                            kib=MAX_TEXT_RUN // 1024,
                            hint=hint,
                        )
                    ]
                )
    return size
