"""The HQL scripts of include/hql/, published to S3 under a prefix named by their content."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("loanlake.emr")

HQL_DIR = Path(__file__).resolve().parents[3] / "include" / "hql"


def read_scripts(required: Sequence[str], folder: Path = HQL_DIR) -> dict[str, bytes]:
    """Every script of the folder, by name; a missing required one is a deployment error."""
    missing = [name for name in required if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"HQL script(s) missing from {folder}: {', '.join(missing)}")
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.hql"))}


def content_hash(scripts: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(scripts):
        digest.update(name.encode() + b"\0" + hashlib.sha256(scripts[name]).digest())
    return digest.hexdigest()[:16]


def publish(s3: Any, bucket: str, code_prefix: str, required: Sequence[str], folder: Path = HQL_DIR) -> str:
    """Upload the scripts to ``s3://<bucket>/<code_prefix>/<content hash>/``; return that folder's URI.

    The key names the content, so a key that exists holds these bytes: a rerun uploads nothing, and a
    run started before a deployment keeps reading the scripts it started with.
    """
    scripts = read_scripts(required, folder)
    prefix = f"{code_prefix}/{content_hash(scripts)}"
    present = {
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
        for obj in page.get("Contents", [])
    }
    uploaded = 0
    for name, body in scripts.items():
        if f"{prefix}/{name}" not in present:
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=body, ContentType="text/plain")
            uploaded += 1
    log.info(
        "HQL scripts at s3://%s/%s/: %d uploaded, %d already there", bucket, prefix, uploaded, len(scripts) - uploaded
    )
    return f"s3://{bucket}/{prefix}"
