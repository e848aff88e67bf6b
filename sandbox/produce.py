"""``python -m sandbox.produce [--count N] [--bad-every K]``: loan-application events into the sandbox's stream.

The producer is ``python -m loanlake.streaming.producer`` (usable against AWS as it is); this points it at the
sandbox that ``python -m sandbox up`` started and at the stream the default config declares.
"""

from __future__ import annotations

import os
import sys

from loanlake.config import parse_config
from loanlake.streaming import producer
from sandbox.site import ACCOUNT_CREDENTIALS, REGION, SandboxSettings


def main(argv: list[str] | None = None) -> int:
    ready = SandboxSettings().home / "ready"
    if not ready.exists():
        print(f"the sandbox is not up ({ready} is missing): run `python -m sandbox up` first", file=sys.stderr)
        return 1
    os.environ.update(
        AWS_ENDPOINT_URL=ready.read_text().strip(),
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID=ACCOUNT_CREDENTIALS["login"],
        AWS_SECRET_ACCESS_KEY=ACCOUNT_CREDENTIALS["password"],
    )
    stream = parse_config(None).streaming.stream.name
    return producer.main(["--stream", stream, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
