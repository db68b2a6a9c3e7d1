"""The encrypted zip a partner downloads: AES-256, the right password only, CSV that survives a round trip."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import shutil
import subprocess
import zipfile

import pytest
import pyzipper
from exhaust.aes_zip import BLOCK_BYTES, EncryptedCsvZip, encode_rows

AES_COMPRESSION = 99  # WinZip AES marker in the zip's compression method field
AWKWARD_ROWS: list[list[str | None]] = [
    ["Sharma, Priya", 'Ravi "Rocky" Kumar', "Anil\nKumar", "line\r\nbreak"],
    ["अनिल कुमार, शिक्षक", 'சுப்பிரமணியன் "சுப்பு"', "", None],
    ["  spaces  ", "=1+1", "trailing,", '""'],
]


def write_zip(path, rows, password="s3cret-ключ", header=("a", "b", "c", "d")):
    with EncryptedCsvZip(path, "data.csv", password) as archive:
        archive.write_header(header)
        archive.write_rows(rows, chunk_rows=2)
    return archive.summary


def test_zip_opens_with_the_password_and_reads_back_every_awkward_field(tmp_path):
    summary = write_zip(tmp_path / "out.zip", AWKWARD_ROWS)
    with pyzipper.AESZipFile(tmp_path / "out.zip") as archive:
        archive.setpassword("s3cret-ключ".encode())
        text = archive.read("data.csv").decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["a", "b", "c", "d"]
    assert rows[1:] == [[value if value is not None else "" for value in row] for row in AWKWARD_ROWS]
    assert summary.rows == 3
    assert text.endswith("\r\n")


def test_wrong_password_cannot_read_the_file(tmp_path):
    write_zip(tmp_path / "out.zip", AWKWARD_ROWS)
    with pyzipper.AESZipFile(tmp_path / "out.zip") as archive:
        archive.setpassword(b"wrong")
        with pytest.raises(RuntimeError, match="Bad password"):
            archive.read("data.csv")


def test_stdlib_zipfile_sees_an_aes_encrypted_member_it_cannot_read(tmp_path):
    write_zip(tmp_path / "out.zip", AWKWARD_ROWS)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        (info,) = archive.infolist()
        assert info.compress_type == AES_COMPRESSION
        assert info.flag_bits & 0x1, "the member is flagged encrypted"
        with pytest.raises(NotImplementedError):
            archive.read("data.csv", pwd="s3cret-ключ".encode())
    assert b"Sharma" not in (tmp_path / "out.zip").read_bytes()


def test_summary_reports_rows_size_and_sha256_of_the_zip(tmp_path):
    summary = write_zip(tmp_path / "out.zip", [["x", "1"]] * 25, header=("name", "n"))
    content = (tmp_path / "out.zip").read_bytes()
    assert summary.rows == 25
    assert summary.bytes == len(content)
    assert summary.sha256 == hashlib.sha256(content).hexdigest()


def test_empty_password_is_refused(tmp_path):
    with pytest.raises(ValueError, match="password"):
        EncryptedCsvZip(tmp_path / "out.zip", "data.csv", "")


def test_encode_rows_is_rfc4180():
    assert encode_rows([["a,b", 'say "hi"', "x\ny", None, 3]]) == b'"a,b","say ""hi""","x\ny",,3\r\n'


SEVEN_ZIP = shutil.which("7zz") or ""
needs_7zip = pytest.mark.skipif(not SEVEN_ZIP, reason="7-Zip (7zz) is not installed: apt-get install 7zip")


def large_csv(blocks=5):
    """Several of the writer's blocks of CSV, so the parallel deflate's pieces must join into one stream."""
    line = 'do_1,"Basics of Arithmetic, Part 1",b1,"Batch ""1""",{},Karnataka,,45,Issued,"67%"\r\n'
    return b"".join(line.format(number).encode() for number in range(blocks * BLOCK_BYTES // 80))


@needs_7zip
def test_7zip_opens_the_zip_with_the_password_and_gets_the_same_bytes(tmp_path):
    content = large_csv()
    with EncryptedCsvZip(tmp_path / "out.zip", "data.csv", "s3cret-ключ") as archive:
        archive.write_csv_bytes(content, rows=1)
    tested = subprocess.run([SEVEN_ZIP, "x", "-ps3cret-ключ", f"-o{tmp_path / 'x'}", str(tmp_path / "out.zip")],
                            capture_output=True, text=True)  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "Everything is Ok" in tested.stdout
    assert (tmp_path / "x" / "data.csv").read_bytes() == content
    listing = subprocess.run([SEVEN_ZIP, "l", "-slt", str(tmp_path / "out.zip")], capture_output=True, text=True)
    assert "Method = AES-256 Deflate" in listing.stdout


@needs_7zip
def test_7zip_refuses_a_wrong_password(tmp_path):
    write_zip(tmp_path / "out.zip", AWKWARD_ROWS)
    tested = subprocess.run([SEVEN_ZIP, "t", "-pwrong", str(tmp_path / "out.zip")], capture_output=True, text=True)
    assert tested.returncode != 0
    assert "Wrong password" in tested.stdout + tested.stderr


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_every_compression_level_reads_back_in_pyzipper(tmp_path, level):
    content = large_csv(blocks=3)
    with EncryptedCsvZip(tmp_path / "out.zip", "data.csv", "pw", level, workers=2) as archive:
        archive.write_csv_bytes(content[:1000], rows=1)
        archive.write_csv_bytes(content[1000:], rows=1)
    with pyzipper.AESZipFile(tmp_path / "out.zip") as opened:
        opened.setpassword(b"pw")
        assert opened.read("data.csv") == content
    assert (tmp_path / "out.zip").stat().st_size < len(content) / 4


def test_compression_levels_outside_0_to_3_are_refused(tmp_path):
    with pytest.raises(ValueError, match="compression level 6"):
        EncryptedCsvZip(tmp_path / "out.zip", "data.csv", "pw", 6)


def test_the_entry_is_dated_with_the_build_time_not_1980(tmp_path):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    write_zip(tmp_path / "out.zip", AWKWARD_ROWS)
    after = dt.datetime.now(dt.UTC)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        (info,) = archive.infolist()
    dated = dt.datetime(*info.date_time, tzinfo=dt.UTC)
    assert before - dt.timedelta(seconds=2) <= dated <= after  # DOS times have a 2-second resolution


def fail_while_writing(archive):
    with archive:
        archive.write_rows([["a"]])
        raise RuntimeError("boom")


def test_a_build_that_fails_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        fail_while_writing(EncryptedCsvZip(tmp_path / "out.zip", "data.csv", "pw"))
    assert not (tmp_path / "out.zip").exists()
