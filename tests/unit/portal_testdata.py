"""What the portal tests share: credentials and a folder of tiny zips in both naming schemes."""

from __future__ import annotations

import zipfile
from pathlib import Path

USER = "analyst@example.com"
PASSWORD = "s3cret-Pa55word"
LOAN_ZIPS = {
    "historical_data1_Q42015.zip": ("quarterly", "2015Q4"),
    "sample_2016.zip": ("sample", "2016"),
    "historical_data_2016Q1.zip": ("quarterly", "2016Q1"),
}
OTHER_ZIP = "sample_files_r47.zip"  # a zip on the download page that is no loan-level data


def write_portal_files(folder: Path) -> Path:
    """The loan-level zips, the other zip and a PDF, as a portal's files folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*LOAN_ZIPS, OTHER_ZIP):
        with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name.replace(".zip", ".txt"), "".join(f"{name}|{i}\n" for i in range(200)))
    (folder / "user_guide.pdf").write_bytes(b"%PDF-1.4\n")
    return folder
