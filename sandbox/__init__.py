"""The local stand-in for AWS and the Freddie Mac portal (development, demo and tests only).

The sandbox imports ``loanlake`` from ``plugins/`` as Airflow does, so ``python -m sandbox`` works
from the repository root without PYTHONPATH.
"""

import sys
from pathlib import Path

_PLUGINS = str(Path(__file__).resolve().parent.parent / "plugins")
if _PLUGINS not in sys.path:
    sys.path.insert(0, _PLUGINS)
