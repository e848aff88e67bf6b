"""Reproducible deployment zips of the Lambda sources in ``include/lambda/<name>/``.

The same source gives the same bytes, so a zip's ``CodeSha256`` (base64 of its SHA-256, as Lambda reports
it) tells whether a deployed function runs this source. Entries are the folder's files, sorted by path,
each with the timestamp 1980-01-01 00:00, mode 0644, Unix as the creating system and deflate level 9;
``__pycache__``, compiled files and dotfiles are left out. Deflate output comes from zlib, so compare
hashes built with the same zlib version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

LAMBDA_DIR = Path(__file__).resolve().parents[3] / "include" / "lambda"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--
_UNIX = 3


@dataclass(frozen=True)
class LambdaZip:
    """A deployment package and the ``CodeSha256`` Lambda reports for it."""

    content: bytes
    code_sha256: str


def code_sha256(content: bytes) -> str:
    """Base64 of the SHA-256 of a deployment package, the form of Lambda's ``CodeSha256``."""
    return base64.b64encode(hashlib.sha256(content).digest()).decode("ascii")


def lambda_source_dir(name: str, root: Path = LAMBDA_DIR) -> Path:
    """The source folder of the Lambda ``name`` (``include/lambda/<name>``)."""
    folder = root / name
    if Path(name).name != name or name in ("", ".", "..") or not folder.is_dir():
        raise FileNotFoundError(f"no Lambda source folder {name!r} under {root}")
    return folder


def _entries(source_dir: Path) -> list[tuple[str, Path]]:
    """``(name in the zip, file)`` for every file to package, sorted by name."""
    entries = []
    for path in source_dir.rglob("*"):
        parts = path.relative_to(source_dir).parts
        skipped = any(part == "__pycache__" or part.startswith(".") for part in parts)
        if path.is_file() and not skipped and path.suffix not in (".pyc", ".pyo"):
            entries.append(("/".join(parts), path))
    return sorted(entries)


def build_zip(source_dir: Path) -> LambdaZip:
    """The deployment zip of every file under ``source_dir``, paths relative to it (the handler at the root)."""
    entries = _entries(source_dir)
    if not entries:
        raise FileNotFoundError(f"{source_dir} holds no files to package")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = _UNIX
            info.external_attr = _FILE_MODE << 16
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    content = buffer.getvalue()
    return LambdaZip(content, code_sha256(content))
