"""Moto extensions: where the sandbox adds what moto lacks, backed by a real engine.

An extension is a function decorated with ``@extension("name")`` in a module of this package. It is
called once when the sandbox starts, with the ``SandboxContext``, patches the moto backends it needs
(``moto.<service>.models.<service>_backends``) and returns a callable that undoes the patch, or None.
Production code never imports this package: it sends the same requests to AWS.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("sandbox.extensions")


@dataclass(frozen=True)
class SandboxContext:
    """What an extension may need to know about the running sandbox."""

    home: Path  # the sandbox's state folder
    endpoint_url: str  # the moto server
    region: str
    mysql: dict[str, object]  # connect kwargs for the local MariaDB (database loanlake)
    postgres: dict[str, object]  # connect kwargs for the local PostgreSQL (database loanlake)


Undo = Callable[[], None]
Extension = Callable[[SandboxContext], Undo | None]
_REGISTRY: dict[str, Extension] = {}


def extension(name: str) -> Callable[[Extension], Extension]:
    """Register an extension under a unique name."""

    def register(func: Extension) -> Extension:
        if name in _REGISTRY and _REGISTRY[name] is not func:
            raise ValueError(f"sandbox extension {name!r} is registered twice")
        _REGISTRY[name] = func
        return func

    return register


def apply_all(context: SandboxContext) -> list[Undo]:
    """Import every extension module, apply each extension in name order, return the undo callables."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    undos = []
    for name in sorted(_REGISTRY):
        undo = _REGISTRY[name](context)
        log.info("sandbox extension %s applied", name)
        if undo is not None:
            undos.append(undo)
    return undos
