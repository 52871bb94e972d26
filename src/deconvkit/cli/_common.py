"""Shared pieces of the command line: errors, messages, memory, output paths, the sidecar JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_MEMORY",
    "EXIT_OK",
    "EXIT_USAGE",
    "FORMATTER",
    "CLIError",
    "Messages",
    "available_memory",
    "check_output",
    "common_parent",
    "format_bytes",
    "json_safe",
    "parse_spacing",
    "peak_memory",
    "versions",
    "write_sidecar_atomically",
]

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, a failed read or write, a library error
EXIT_USAGE = 2  # bad options (argparse's code), unknown method or parameter
EXIT_MEMORY = 3  # the memory check refused the run
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it

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


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None where the system does not say.

    The smallest of: ``MemAvailable`` in ``/proc/meminfo`` (Linux), the room
    left under a cgroup memory limit (containers, v2 then v1), and
    ``os.sysconf`` available pages (other Unix systems, when nothing else answered).
    """
    found: list[int] = []
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="ascii") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            found.append(max(limit - usage, 0))
            break
    if not found:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            if pages > 0 and size > 0:
                found.append(pages * size)
    return min(found) if found else None


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


def check_output(path: Path, overwrite: bool, inputs: list[Path], what: str = "output file") -> None:
    """Refuse, before any work, an output that exists, sits in a missing or read-only
    folder, or is one of the inputs (even with ``--overwrite``)."""
    folder = path.parent
    if not folder.exists():
        raise CLIError(f"output folder does not exist: {folder}; create it first (mkdir -p) "
                       f"or choose another output with -o")
    if not folder.is_dir():
        raise CLIError(f"output folder is not a folder: {folder}; fix the -o path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"output folder is not writable: {folder}; choose a folder you can "
                       f"write to with -o")
    if path.is_dir():
        raise CLIError(f"output path is a folder: {path}; give a file name such as out.tif")
    if path.exists():
        resolved = path.resolve()
        if any(resolved == p.resolve() for p in inputs if p.exists()):
            raise CLIError(f"refusing to write over the input file {path}: choose another "
                           f"output name with -o")
        if not overwrite:
            raise CLIError(f"{what} already exists: {path}; pass --overwrite to replace it, "
                           f"or choose another name with -o")


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
    """Write ``record`` as JSON to a temporary file beside ``path``; return the temporary path.

    The caller moves it into place with :func:`place_file` once the image is
    written, so an interrupted run leaves neither.
    """
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False,
        encoding="utf-8",
    ) as handle:
        json.dump(json_safe(record), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(handle.name, 0o666 & ~mask)  # as a new file would be (mkstemp makes it 0600)
    return Path(handle.name)


def place_file(temporary: Path, path: Path, overwrite: bool) -> None:
    """Rename ``temporary`` to ``path``; without ``overwrite``, never replace an existing file."""
    if overwrite:
        os.replace(temporary, path)
        return
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise CLIError(f"output file already exists: {path}; pass --overwrite to replace it") \
            from None
    except OSError:  # no hard links here
        if path.exists():
            raise CLIError(f"output file already exists: {path}; pass --overwrite to replace it") \
                from None
        os.replace(temporary, path)
        return
    os.unlink(temporary)


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
