"""Run the modelsnap CLI in this process on a simulated read-only file system or full disk.

``python faulty_disk.py EROFS|ENOSPC ARGS...``: every open for writing (builtins/io ``open``,
``os.open`` with write flags) fails with EROFS, or succeeds but every ``write``/``os.write`` to
a file fails with ENOSPC; with EROFS, renames, links, mkdir and unlink fail too. Reads work.
The model worker is a separate process and writes its staging normally; the parent, which
records everything, sees the fault.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import sys

MODE = sys.argv[1]
CODE = errno.EROFS if MODE == "EROFS" else errno.ENOSPC


def _fail(path: object = "") -> None:
    raise OSError(CODE, os.strerror(CODE), str(path))


_real_open = builtins.open
_real_os_open = os.open
_real_os_write = os.write


class _FullFile:
    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        _fail(self._handle.name)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


def _open(file, mode="r", *args, **kwargs):
    if isinstance(file, int) or not set(mode) & set("wax+"):
        return _real_open(file, mode, *args, **kwargs)
    if MODE == "EROFS":
        _fail(file)
    return _FullFile(_real_open(file, mode, *args, **kwargs))


def _os_open(path, flags, *args, **kwargs):
    if MODE == "EROFS" and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        _fail(path)
    return _real_os_open(path, flags, *args, **kwargs)


def _os_write(fd, data):
    if fd > 2:
        _fail()
    return _real_os_write(fd, data)


def _refuse(*args, **kwargs):
    _fail(args[0] if args else "")


builtins.open = io.open = _open
os.open = _os_open
os.write = _os_write
if MODE == "EROFS":
    for _name in ("replace", "rename", "link", "mkdir", "unlink", "rmdir"):
        setattr(os, _name, _refuse)

from modelsnap.cli import main  # noqa: E402

sys.exit(main(sys.argv[2:]))
