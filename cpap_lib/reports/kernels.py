"""Jupyter kernels for the report notebooks: the kernelspec of this environment, IPC transport.

Examples
--------
>>> _runs_this_python(sys.executable)
True
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
import uuid
from typing import Any

__all__ = ["current_env_kernel", "ipc_kernel_manager", "KERNEL_START_TIMEOUT_S"]

log = logging.getLogger(__name__)

KERNEL_START_TIMEOUT_S = 120
"""Longest a report kernel may take to start."""
_PYTHON_NAMES = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}


def _runs_this_python(argv0: str) -> bool:
    """Whether a kernelspec's executable is the running interpreter.

    >>> _runs_this_python("python3"), _runs_this_python(sys.executable), _runs_this_python("/opt/other/python")
    (True, True, False)
    """
    if argv0 in _PYTHON_NAMES:  # jupyter_client substitutes sys.executable for these
        return True
    return os.path.abspath(argv0) == os.path.abspath(sys.executable)


def current_env_kernel() -> str:
    """The name of a kernelspec that runs this environment's Python.

    ``python3`` when it resolves to ``sys.executable`` (the usual case in a
    virtualenv with ipykernel); otherwise a kernelspec for this interpreter is
    installed under ``sys.prefix`` (``cpap-lab-<hash>``) and its name returned.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        if _runs_this_python(manager.get_kernel_spec("python3").argv[0]):
            return "python3"
    except NoSuchKernel:
        pass
    name = f"cpap-lab-{uuid.uuid5(uuid.NAMESPACE_URL, sys.executable).hex[:8]}"
    try:
        if _runs_this_python(manager.get_kernel_spec(name).argv[0]):
            return name
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=name, display_name=f"Python ({sys.prefix})", prefix=sys.prefix)
    log.info("installed kernelspec %s for %s", name, sys.executable)
    return name


@functools.cache
def ipc_kernel_manager() -> type:
    """A jupyter_client kernel manager whose kernels talk over Unix sockets (IPC), not TCP.

    No TCP ports to pick (parallel kernels cannot race for one) and no
    "running over TCP without encryption" warning from every kernel.
    """
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            # an absolute socket path prefix (the default is relative to the working directory)
            kwargs.setdefault("ip", os.path.join(tempfile.gettempdir(), f"cpap-kernel-{uuid.uuid4().hex}-ipc"))
            super().__init__(**kwargs)

    return IpcKernelManager
