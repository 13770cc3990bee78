"""An .xlsx is a zip of XML: a few MB of deflate expand to gigabytes (issue 21 item 7). On the
landed code a workbook with a 1 GiB inline cell (1.1 MB compressed) took 2.2 GB to import, and
a 4.3 MB one ended in ``MemoryError`` after 52 s. Now the archive is checked while streaming
before openpyxl reads it: a clear error within seconds, in well under 200 MB."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from loaders.excel import export_excel
from loaders.excel.read import read_workbook
from loaders.excel.sheets import ExcelImportError
from tests.helpers import DEMO

GIB = 1 << 30
CHUNK = 1 << 20


class _Precompressed:
    """Stands in for zipfile's deflater: every 1 MiB of 'A' is the same deflate block after a
    full flush, so a 1 GiB member costs one compression of 1 MiB, not of 1 GiB."""

    def __init__(self, head: bytes, chunk: bytes, foot: bytes) -> None:
        real = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.blocks = {
            id(head): real.compress(head) + real.flush(zlib.Z_FULL_FLUSH),
            id(chunk): real.compress(chunk) + real.flush(zlib.Z_FULL_FLUSH),
        }
        self.blocks[id(foot)] = real.compress(foot)
        self.tail = real.flush(zlib.Z_FINISH)

    def compress(self, data: bytes) -> bytes:
        return self.blocks[id(data)]

    def flush(self) -> bytes:
        return self.tail


def bomb(tmp: Path, cell_bytes: int) -> Path:
    """The demo's exported workbook with its first sheet replaced by one holding a single inline
    cell of ``cell_bytes`` bytes."""
    book = tmp / "book.xlsx"
    export_excel(DEMO, book)
    out = tmp / f"bomb-{cell_bytes}.xlsx"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        sheets = sorted(n for n in src.namelist() if n.startswith("xl/worksheets/sheet"))
        target = sheets[0]
        for info in src.infolist():
            if info.filename != target:
                dst.writestr(info, src.read(info.filename))
        head = (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
        )
        foot = b"</t></is></c></row></sheetData></worksheet>"
        chunk = b"A" * CHUNK
        info = zipfile.ZipInfo(target, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(info, "w", force_zip64=True) as member:
            member._compressor = _Precompressed(head, chunk, foot)  # type: ignore[attr-defined]
            member.write(head)
            for _ in range(cell_bytes // CHUNK):
                member.write(chunk)
            member.write(foot)
    return out


@pytest.fixture(scope="module")
def gib_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bomb(tmp_path_factory.mktemp("bomb"), GIB)


CHILD = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # the landed code needed 2.2 GB
from loaders.excel.read import read_workbook
from loaders.excel.sheets import ExcelImportError
start = time.monotonic()
try:
    read_workbook(sys.argv[1])
except ExcelImportError as exc:
    print("REFUSED", round(time.monotonic() - start, 2), exc.message)
except MemoryError:
    print("MEMORYERROR", round(time.monotonic() - start, 2))
else:
    print("READ", round(time.monotonic() - start, 2))
with open("/proc/self/status") as status:  # this process's own peak, not its parent's
    print(next(line for line in status if line.startswith("VmHWM:")))
"""


def run_child(path: Path) -> tuple[str, float]:
    """Import ``path`` in a child process (address space capped at 1 GiB so a failure cannot
    take the machine down); its output and peak RSS in MB.

    The peak is the child's own ``VmHWM``: ``ru_maxrss`` from ``wait4`` keeps the high-water
    mark of the address space before ``exec`` (the whole pytest process: 2.6 GB late in a
    full run), so it measured the parent."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    output = proc.stdout.decode("utf-8", "replace")
    peak = re.search(r"^VmHWM:\s+(\d+) kB$", output, re.MULTILINE)
    assert peak, output
    return output, int(peak.group(1)) / 1024


def test_a_one_gib_inline_cell_is_refused_quickly_in_little_memory(gib_bomb: Path) -> None:
    assert gib_bomb.stat().st_size < 2 * CHUNK  # ~1 MB on disk
    with zipfile.ZipFile(gib_bomb) as z:
        assert max(i.file_size for i in z.infolist()) > GIB
    started = time.monotonic()
    output, rss_mb = run_child(gib_bomb)
    elapsed = time.monotonic() - started
    assert output.startswith("REFUSED"), output
    # in the language in use (zh: no catalog chose one)
    assert ("expands to" in output and "over the limit of 256 MiB" in output) or (
        "解压后为" in output and "超过上限 256 MiB" in output
    ), output
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert rss_mb < 200, f"peak RSS {rss_mb:.0f} MB"
    print(f"1 GiB bomb refused in {elapsed:.2f} s (child total), peak RSS {rss_mb:.0f} MB")


def test_a_4_mib_cell_under_the_part_bound_is_refused_by_the_cell_bound(tmp_path: Path) -> None:
    path = bomb(tmp_path, 4 * CHUNK)
    started = time.monotonic()
    with pytest.raises(ExcelImportError) as caught:
        read_workbook(path)
    assert time.monotonic() - started < 10
    message = caught.value.message  # in the language in use (zh: no catalog chose one)
    assert "holds a cell or attribute of over 256 KiB" in message or "超过 256 KiB" in message
    assert "32,767" in message, message


def test_a_dtd_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    export_excel(DEMO, book)
    evil = tmp_path / "evil.xlsx"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(evil, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                data = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;">]>' + data
            dst.writestr(info, data)
    with pytest.raises(ExcelImportError, match=r"declares a DTD or entities|声明了 DTD 或实体"):
        read_workbook(evil)


def test_an_exported_workbook_still_reads(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    export_excel(DEMO, book)
    doc: Any = read_workbook(book)
    assert doc
