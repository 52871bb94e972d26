"""Files that appear whole or not at all: hidden temporaries beside the target, fsync, and
renames that a signal cannot split.

The pieces :func:`deconvkit.io.write`, the command line's output set
(``deconvkit.cli._output``) and the comparison report's folder swap are built from:

* :func:`create_temporary`: a hidden file in the target's folder, named from the target
  but never longer than the file system allows, with the permissions a new file gets;
* :func:`fsync_file`, :func:`fsync_folder`: data and directory entries on the disk
  before and after a rename, so a crash cannot leave a renamed but empty file;
* :func:`move_into_place`: one rename that replaces only a regular file (never a
  device node, a pipe, a folder or a symbolic link), and without ``overwrite`` never
  replaces anything;
* :func:`deferred_signals`: SIGINT, SIGTERM and SIGHUP held back during a few renames,
  so an interruption lands before or after them, never between.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "NAME_MAX",
    "check_replaceable",
    "create_temporary",
    "deferred_signals",
    "file_kind",
    "fsync_file",
    "fsync_folder",
    "move_into_place",
    "name_max",
    "umask",
]

#: Bytes in a file name where the file system does not say (ext4, XFS, APFS, NTFS: 255).
NAME_MAX = 255
_TEMPORARY_STEM = 120  # bytes of the target's name kept in a temporary's name
#: The signals held back by :func:`deferred_signals`.
DEFERRED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                 if hasattr(signal, name))


def name_max(folder: str | os.PathLike[str]) -> int:
    """The longest file name, in bytes, the file system of ``folder`` accepts."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        value = os.pathconf(folder, "PC_NAME_MAX")
        if value and value > 0:
            return int(value)
    return NAME_MAX


def umask() -> int:
    """The process umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status",
                                                          encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_kind(mode: int) -> str:
    """``"a regular file"``, ``"a folder"``, ``"a character device"``, ... for an st_mode."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def create_temporary(path: str | os.PathLike[str], tag: str = "tmp") -> Path:
    """Create an empty hidden file beside ``path`` and return its path.

    Its name is ``.NAME.XXXXXXXX.TAG`` with NAME the target's name cut to
    120 bytes, so a target whose name is as long as the file system allows
    still gets a temporary. Its mode is what a new file gets under the
    umask (``mkstemp`` alone would make it private, 0600).
    """
    target = Path(path)
    stem = os.fsencode(target.name)[:_TEMPORARY_STEM].decode(errors="ignore")
    handle, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".{tag}", dir=target.parent)
    os.close(handle)
    try:
        os.chmod(name, 0o666 & ~umask())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a written file's data to the disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (after renames); a no-op where folders cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        handle = os.open(folder, flags)
    except OSError:  # Windows, some network file systems
        return
    try:
        os.fsync(handle)
    except OSError:  # EINVAL on file systems without directory fsync
        pass
    finally:
        os.close(handle)


def check_replaceable(path: Path, what: str = "output") -> bool:
    """Whether ``path`` exists (as a regular file); raise if something else is there.

    Raises
    ------
    FileExistsError
        ``path`` is a symbolic link (dangling or not), a device node, a pipe or a
        socket: only regular files are ever replaced.
    IsADirectoryError
        ``path`` is a folder.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISREG(mode):
        return True
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, f"the {what} path is a folder; give a file name",
                                str(path))
    raise FileExistsError(errno.EEXIST, f"the {what} path is {file_kind(mode)}, not a regular "
                          f"file; only regular files are replaced", str(path))


def move_into_place(temporary: Path, path: Path, overwrite: bool) -> None:
    """Rename ``temporary`` to ``path`` in one step.

    With ``overwrite``, an existing regular file is replaced (anything else at
    ``path`` is refused: see :func:`check_replaceable`); without it, an existing
    ``path`` is never replaced, even one that appeared a moment ago (a hard
    link refuses an existing name atomically; where hard links are not
    supported, the check and the rename are two steps). The folder is fsynced.
    """
    exists = check_replaceable(path)
    if overwrite:
        os.replace(temporary, path)
    else:
        if exists:
            raise FileExistsError(errno.EEXIST, "the output already exists", str(path))
        try:
            os.link(temporary, path)  # atomic, and refuses an existing name
        except FileExistsError:
            raise FileExistsError(errno.EEXIST, "the output already exists", str(path)) \
                from None
        except OSError:  # no hard links on this file system
            if os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, "the output already exists",
                                      str(path)) from None
            os.replace(temporary, path)
        else:
            os.unlink(temporary)
    fsync_folder(path.parent)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP inside the block; act on them after it.

    For a few renames that must happen together. Inside the block, each of these
    signals that is not ignored gets a handler that only notes its arrival; at the
    end the previous handlers come back and the first signal noted is acted on as
    it would have been: its Python handler runs (Ctrl-C raises KeyboardInterrupt),
    or, for a signal at its default action, the signal is raised again (and kills
    the process, as it would have). Python-level handlers rather than a thread's
    signal mask, because the C handler may run in any thread (a BLAS or FFT pool
    thread that does not block the signal), while Python runs the handler in the
    main thread. A no-op outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, frame: Any) -> None:
        noted.append(signum)

    previous: dict[int, Any] = {}
    try:
        for signum in DEFERRED:
            handler = signal.getsignal(signum)
            if handler is not None and handler is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, note)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if noted:
            signum = noted[0]
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, None)  # KeyboardInterrupt, or the command's Terminated
            elif handler is signal.SIG_DFL:
                signal.raise_signal(signum)
