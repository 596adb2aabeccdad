"""Test support: a Python process started with ``SNAKE_PIPE_NO_DAC=1`` and this folder on
``PYTHONPATH`` gives up ``CAP_DAC_OVERRIDE`` and ``CAP_DAC_READ_SEARCH`` at start-up, for good
(its children too). As root, a folder with mode 000 is then unreadable to it, as it is to an
unprivileged deployment: the fault matrix's "root unreadable for a while" is real.
"""

import ctypes
import os

__all__: list[str] = []

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
_PR_CAPBSET_DROP = 24
_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _Header(_VERSION_3, 0), (_Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    mask = ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
    data[0].effective &= mask
    data[0].permitted &= mask
    data[0].inheritable &= mask
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # children cannot get them back


if os.environ.get("SNAKE_PIPE_NO_DAC") == "1" and os.geteuid() == 0:
    try:
        _drop()
    except OSError as e:  # the process goes on as it is; the test that needs it says so
        os.write(2, f"sitecustomize: cannot drop CAP_DAC_OVERRIDE: {e}\n".encode())
