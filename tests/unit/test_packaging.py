"""The encrypted zip a partner downloads: AES-256, the right password only, CSV that survives a round trip."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile

import pytest
import pyzipper
from exhaust.packaging import EncryptedCsvZip, encode_rows

AES_COMPRESSION = 99  # WinZip AES marker in the zip's compression method field
AWKWARD_ROWS = [
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
