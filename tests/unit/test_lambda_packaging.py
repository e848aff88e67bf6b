"""Lambda deployment zips: reproducible bytes, a hash that follows the source, Lambda's CodeSha256."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from loanlake.streaming.packaging import LAMBDA_DIR, build_zip, code_sha256, lambda_source_dir


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of the Firehose transformer's source, with litter that must stay out of the zip."""
    folder = tmp_path / "firehose_transform"
    shutil.copytree(lambda_source_dir("firehose_transform"), folder)
    (folder / "lib").mkdir()
    (folder / "lib" / "util.py").write_text("X = 1\n")
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"\0compiled")
    (folder / "lib" / "util.pyc").write_bytes(b"\0compiled")
    (folder / ".DS_Store").write_bytes(b"finder")
    return folder


@pytest.mark.parametrize("name", ["firehose_transform", "endpoint_proxy"])
def test_each_lambda_has_handler_py_at_the_zip_root(name):
    package = build_zip(lambda_source_dir(name))

    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        assert archive.testzip() is None
        assert "handler.py" in archive.namelist()
        assert archive.read("handler.py") == (LAMBDA_DIR / name / "handler.py").read_bytes()


def test_the_same_source_gives_the_same_bytes(source, tmp_path):
    first = build_zip(source)
    for path in source.rglob("*"):  # new timestamps and permissions, same content
        os.utime(path, (1_900_000_000, 1_900_000_000))
        if path.is_file():
            path.chmod(0o600)
    copy = shutil.copytree(source, tmp_path / "elsewhere" / "firehose_transform")

    assert build_zip(source) == first
    assert build_zip(copy).content == first.content


def test_entries_are_sorted_with_fixed_metadata_and_no_litter(source):
    with zipfile.ZipFile(io.BytesIO(build_zip(source).content)) as archive:
        infos = archive.infolist()

    assert [i.filename for i in infos] == ["handler.py", "lib/util.py"]
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_changing_a_file_changes_the_hash(source):
    before = build_zip(source)
    handler = source / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")

    after = build_zip(source)

    assert after.code_sha256 != before.code_sha256


def test_code_sha256_is_base64_of_the_zips_sha256(source):
    package = build_zip(source)

    assert package.code_sha256 == base64.b64encode(hashlib.sha256(package.content).digest()).decode()
    assert package.code_sha256 == code_sha256(package.content)
    assert len(base64.b64decode(package.code_sha256)) == 32


@pytest.mark.parametrize("name", ["no_such_lambda", "../lambda", "", "..", "firehose_transform/handler.py"])
def test_an_unknown_lambda_name_is_refused(name):
    with pytest.raises(FileNotFoundError, match="no Lambda source folder"):
        lambda_source_dir(name)


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "__pycache__").mkdir()

    with pytest.raises(FileNotFoundError, match="holds no files to package"):
        build_zip(tmp_path)
