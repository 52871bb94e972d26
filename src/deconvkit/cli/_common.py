"""Shared pieces of the command line: errors, messages, memory, output paths, the sidecar JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from ..backend import available_memory

from ..io._atomic import create_temporary, file_kind, fsync_file, move_into_place, name_max

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_MEMORY",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "FORMATTER",
    "CLIError",
    "Messages",
    "available_memory",
    "check_inputs",
    "check_output",
    "common_parent",
    "format_bytes",
    "json_safe",
    "parse_spacing",
    "peak_memory",
    "place_file",
    "resolve_spacing",
    "versions",
    "write_sidecar_atomically",
]

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, a failed read or write, a library error
EXIT_USAGE = 2  # bad options (argparse's code), unknown method or parameter
EXIT_MEMORY = 3  # the memory check refused the run
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
EXIT_TERMINATED = 143  # SIGTERM (128 + 15); SIGHUP gives 129

FORMATTER = argparse.RawDescriptionHelpFormatter


class CLIError(Exception):
    """An expected failure: one line for the user and the exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


class Messages:
    """Notes and warnings on stderr (``deconvkit: note: ...``), silenced by ``--quiet``."""

    def __init__(self, quiet: bool = False, stream: Any = None) -> None:
        self.quiet = quiet
        self._stream = stream

    @property
    def stream(self) -> Any:
        return self._stream if self._stream is not None else sys.stderr

    def note(self, text: str) -> None:
        """An informative line (suppressed by ``--quiet``)."""
        if not self.quiet:
            print(f"deconvkit: note: {text}", file=self.stream, flush=True)

    @contextlib.contextmanager
    def weight_search(self) -> Iterator[None]:
        """Within it, each weight an automatic search tries is a note (the search runs the
        method up to 20 times before the run proper: minutes on a large block)."""
        if self.quiet:
            yield
            return
        messages = self

        class Notes(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                messages.note(record.getMessage())

        from ..methods._plan import search_logger as search

        handler = Notes(logging.INFO)
        level = search.level
        search.addHandler(handler)
        search.setLevel(logging.INFO)
        try:
            yield
        finally:
            search.removeHandler(handler)
            search.setLevel(level)

    def warn(self, text: str) -> None:
        """Something the user should check (always shown)."""
        print(f"deconvkit: warning: {text}", file=self.stream, flush=True)


def common_parent() -> argparse.ArgumentParser:
    """Options every subcommand takes: ``--debug`` and ``--quiet``.

    Their default is SUPPRESS so that a subcommand does not overwrite a value
    the main parser set (``deconvkit --debug deconvolve ...``).
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    parent.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print no progress, notes or summary (errors and warnings only)")
    return parent


def parse_spacing(values: list[float] | None) -> tuple[float, float, float] | None:
    """``--spacing DZ DY DX`` as three positive numbers, or None when not given."""
    if values is None:
        return None
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise CLIError(
            f"--spacing needs three positive numbers DZ DY DX in µm (e.g. --spacing 0.2 0.1 "
            f"0.1); got {' '.join(map(str, values))}", EXIT_USAGE)
    return (float(values[0]), float(values[1]), float(values[2]))


# -- memory -------------------------------------------------------------------------------


def peak_memory() -> int | None:
    """Peak resident memory of this process in bytes (None where unknown, e.g. Windows)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes; Linux: KiB


def format_bytes(n: float | None) -> str:
    """``1.2 GB``, ``340 MB``: decimal units, as ``--memory-limit`` takes them."""
    if n is None:
        return "unknown"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


# -- output files -------------------------------------------------------------------------


def check_output(path: Path, overwrite: bool, inputs: list[Path],
                 what: str = "output file") -> None:
    """Refuse, before any work, an output path that cannot or must not be written.

    Refused: a folder that is missing, a file, or not writable (a path whose
    parent is a file included); a name longer than the file system allows; a
    symbolic link (dangling or not), a folder, a device node, a pipe or a socket
    at the path (``--overwrite`` replaces regular files only); an input, under
    any of its names (hard links included), even with ``--overwrite``; a file
    of another user in a sticky folder (``/tmp``), which the rename could not
    replace; and an existing file without ``--overwrite``.
    """
    path = Path(path)
    folder = path.parent
    if not folder.exists():
        blocker = next((p for p in folder.parents if os.path.lexists(p)), None)
        if blocker is not None and not blocker.is_dir():
            raise CLIError(f"cannot write {path}: {blocker} is a file, not a folder; fix the "
                           f"-o path")
        raise CLIError(f"output folder does not exist: {folder}; create it first (mkdir -p) "
                       f"or choose another output with -o")
    if not folder.is_dir():
        raise CLIError(f"output folder is not a folder: {folder} is a file; fix the -o path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"output folder is not writable: {folder}; choose a folder you can "
                       f"write to with -o")
    longest = name_max(folder)
    size = len(os.fsencode(path.name))
    if size > longest:
        raise CLIError(f"{what} name is too long for its file system ({size} bytes, at most "
                       f"{longest}): {path.name[:40]}...; choose a shorter name with -o")
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CLIError(f"cannot check the {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(found.st_mode):
        target = os.readlink(path)
        state = "a missing file" if not path.exists() else target
        raise CLIError(f"{what} {path} is a symbolic link to {state}: deconvkit writes only "
                       f"regular files, and never through a link; remove the link or choose "
                       f"another name with -o")
    if stat.S_ISDIR(found.st_mode):
        raise CLIError(f"output path is a folder: {path}; give a file name such as out.tif")
    if not stat.S_ISREG(found.st_mode):
        raise CLIError(f"{what} {path} is {file_kind(found.st_mode)}, not a regular file: "
                       f"--overwrite replaces regular files only; choose another name with -o")
    for source in inputs:
        with contextlib.suppress(OSError):
            if os.path.samefile(source, path):
                raise CLIError(f"refusing to write over the input file {path}: choose another "
                               f"output name with -o")
    if not overwrite:
        raise CLIError(f"{what} already exists: {path}; pass --overwrite to replace it, "
                       f"or choose another name with -o")
    _check_sticky(path, found, folder, what)


def _check_sticky(path: Path, found: os.stat_result, folder: Path, what: str) -> None:
    """In a sticky folder (``/tmp``), only the file's owner, the folder's owner or root may
    replace a file: refuse now what the final rename would refuse after the work."""
    uid = getattr(os, "geteuid", lambda: None)()
    if uid is None or uid == 0:
        return
    folder_stat = os.stat(folder)
    if folder_stat.st_mode & stat.S_ISVTX and found.st_uid != uid and folder_stat.st_uid != uid:
        raise CLIError(f"cannot replace the {what} {path}: it belongs to another user and "
                       f"{folder} is a sticky folder (like /tmp), where only its owner may "
                       f"replace it; choose another name with -o")


def check_inputs(files: dict[str, Any]) -> None:
    """Refuse, first, an input that is missing or a folder, naming its role.

    ``files`` maps a role ("image", "PSF", "reference") to a path, a list of
    paths, or None: ``PSF file not found: psf.tif (looked in /data); check the path``.
    """
    for role, paths in files.items():
        for path in (paths if isinstance(paths, (list, tuple)) else [paths]):
            if path is None:
                continue
            path = Path(path).expanduser()
            if path.is_dir() and not (role == "image" and io.is_zarr(path)):
                raise CLIError(f"the {role} {path} is a folder, not an image file: give the "
                               f"path of a .tif" + (" or an OME-Zarr store" if role == "image"
                                                    else ""))
            if not path.exists():
                raise CLIError(f"{role} file not found: {path} (looked in "
                               f"{path.absolute().parent}); check the path")


def resolve_spacing(meta: Any, spacing: tuple[float, float, float] | None,
                    z_step: float | None, messages: Messages,
                    image: Path) -> tuple[tuple[float, float, float], str, Any]:
    """The voxel size to use, where it came from, and what the sidecar records.

    ``--spacing`` gives all three values; ``--z-step`` gives dz and keeps the
    file's pixel size (``meta.file_spacing``), for a file whose z step is missing
    or invalid; otherwise the file's voxel size. What is still missing is
    assumed to be 1 µm, with a warning that names it.

    Returns
    -------
    used : tuple of 3 floats
        ``(dz, dy, dx)`` in µm.
    source : str
        ``"option"``, ``"file"``, ``"file, dz from --z-step"``, ``"file, dz assumed"``
        or ``"assumed"``.
    recorded : tuple or None
        For the sidecar's ``spacing``: the values known, None for an assumed one
        (None when all are assumed).
    """
    if spacing is not None:
        if z_step is not None:
            raise CLIError("give --spacing DZ DY DX or --z-step DZ, not both", EXIT_USAGE)
        return spacing, "option", spacing
    known = getattr(meta, "file_spacing", None) or (None, None, None)
    note = getattr(meta, "spacing_note", None)
    lateral = known[1] is not None and known[2] is not None
    if z_step is not None:
        if not (math.isfinite(z_step) and z_step > 0):
            raise CLIError(f"--z-step needs a positive number of µm, got {z_step:g}", EXIT_USAGE)
        if not lateral:
            why = f" ({note})" if note else ""
            raise CLIError(f"--z-step gives only dz, but {image} has no valid pixel size{why}: "
                           f"pass --spacing DZ DY DX instead", EXIT_USAGE)
        if meta.spacing is not None and not math.isclose(known[0], z_step, rel_tol=1e-6):
            messages.note(f"--z-step {z_step:g} µm replaces the file's z step {known[0]:g} µm")
        used = (float(z_step), float(known[1]), float(known[2]))
        return used, "file, dz from --z-step", used
    if meta.spacing is not None:
        return meta.spacing, "file", meta.spacing
    if lateral:
        messages.warn(f"{image}: {note or 'the z step is missing'}; keeping its pixel size "
                      f"{known[1]:g} x {known[2]:g} µm and assuming dz = 1 µm: pass --z-step "
                      f"DZ (µm) to give the z step")
        return (1.0, float(known[1]), float(known[2])), "file, dz assumed", (None, *known[1:])
    why = f" ({note})" if note else ""
    messages.warn(f"{image} gives no voxel size{why} and --spacing is not set: assuming "
                  f"1 µm (dz = dy = dx = 1); pass --spacing DZ DY DX for the right "
                  f"regularization and PSF model")
    return (1.0, 1.0, 1.0), "assumed", None


def safe_name(text: str) -> str:
    """A file-name-safe version of a method name (``lw+`` -> ``lwp``)."""
    return re.sub(r"[^\w.-]", "_", text.replace("+", "p"))


def json_safe(value: Any) -> Any:
    """Numbers, strings, lists and dicts only; NaN and Inf become None, paths strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist()) if value.size <= 16 else f"array {value.shape}"
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def write_sidecar_atomically(path: Path, record: dict[str, Any], overwrite: bool) -> Path:
    """Write ``record`` as JSON to a hidden temporary file beside ``path`` (flushed to the
    disk); return the temporary path.

    The caller moves it into place (:func:`place_file`, or
    :class:`deconvkit.cli._output.OutputFiles`, which publishes an image and its
    sidecar together) or removes it. On any failure the temporary is removed.
    """
    temporary = create_temporary(path)
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(json_safe(record), handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        fsync_file(temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def place_file(temporary: Path, path: Path, overwrite: bool) -> None:
    """Rename ``temporary`` to ``path``; without ``overwrite``, never replace an existing file,
    and with it, replace only a regular file (see :func:`deconvkit.io._atomic.move_into_place`)."""
    try:
        move_into_place(temporary, path, overwrite)
    except FileExistsError as exc:
        if exc.strerror and "regular file" in exc.strerror:
            raise CLIError(f"{path} is not a regular file: --overwrite replaces regular files "
                           f"only; choose another name with -o") from None
        raise CLIError(f"output file already exists: {path}; pass --overwrite to replace it") \
            from None


def versions() -> dict[str, str]:
    """Versions of deconvkit and the libraries that shape its results."""
    import platform

    import scipy
    import tifffile

    from .. import __version__

    found = {"deconvkit": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
             "tifffile": tifffile.__version__, "python": platform.python_version()}
    with contextlib.suppress(Exception):
        import pylops

        found["pylops"] = pylops.__version__
    return found
