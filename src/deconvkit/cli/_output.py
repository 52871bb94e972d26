"""The files one command writes, and what is on disk after any failure or signal.

:class:`OutputFiles` is made from the output path before any work: it checks
every path it will write (the image and its sidecar JSON), holds their
temporaries while they are written, publishes them together, and on any
failure or signal removes what it wrote, keeps (or puts back) the earlier
files, and says exactly what is on disk (:meth:`OutputFiles.describe`).

Publishing, in one block that SIGINT, SIGTERM and SIGHUP cannot split
(:func:`deconvkit.io._atomic.deferred_signals`): both files are complete and
flushed in hidden temporaries beside their targets; each earlier file is kept
under a hidden name (a hard link, or a rename where links are not supported);
the sidecar is renamed into place, then the image (so an image is never there
without its record); the folder is flushed; the kept earlier files are removed.
If anything fails in between, what was renamed is put back. Only a ``kill -9``
or a power cut inside those few renames can leave a mixed pair, and then the
earlier files are still there under their hidden names.

:func:`signals_as_interrupts` makes SIGTERM and SIGHUP raise :class:`Terminated`
(a ``KeyboardInterrupt``) as Ctrl-C does, so every command cleans up the same way.

>>> outputs = OutputFiles(Path("rl_cells.tif"), overwrite=False,
...                       inputs=[Path("cells.tif")])  # doctest: +SKIP
>>> # ... the computation ...
>>> with outputs:  # doctest: +SKIP
...     outputs.write_image(result, meta, spacing=spacing, axes=axes, dtype="float32")
...     outputs.publish(record)  # the sidecar's content; both files appear together
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .. import io
from ..io._atomic import (
    check_replaceable,
    create_temporary,
    deferred_signals,
    fsync_file,
    fsync_folder,
)
from ._common import (
    EXIT_ERROR,
    EXIT_USAGE,
    CLIError,
    check_output,
    format_bytes,
    json_safe,
)

__all__ = [
    "TIFF_SUFFIXES",
    "OutputFiles",
    "Terminated",
    "forget",
    "on_disk",
    "sidecar_path",
    "signals_as_interrupts",
]

#: Output names the image may have (case-insensitive); ``.ome.tif(f)`` writes OME-TIFF.
TIFF_SUFFIXES = (".tif", ".tiff")
#: Signals handled like Ctrl-C (when their handler is the default one).
HANDLED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                if hasattr(signal, name))

if TYPE_CHECKING:
    from typing_extensions import Self

_CURRENT: OutputFiles | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C raises ``KeyboardInterrupt``.

    Attributes
    ----------
    signum : int
        The signal's number.
    exit_code : int
        ``128 + signum``, as a shell reports a process the signal killed (143 for
        SIGTERM, 129 for SIGHUP).
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        try:
            self.name = signal.Signals(signum).name
        except ValueError:
            self.name = f"signal {signum}"
        super().__init__(self.name)


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGHUP raise :class:`Terminated`.

    Only signals whose handler is the default one are taken over (one the
    caller ignores, as ``nohup`` ignores SIGHUP, stays ignored), only in the
    main thread, and the previous handlers come back at the end.
    """
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in HANDLED:
            if signal.getsignal(signum) is signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def forget() -> None:
    """Drop the record of the outputs of an earlier command (``main`` calls it first)."""
    global _CURRENT
    _CURRENT = None


def on_disk(default: str | None = "nothing was written") -> str | None:
    """What the current command's outputs left on disk (``default`` when it made none)."""
    return _CURRENT.describe() if _CURRENT is not None else default


def started() -> bool:
    """Whether the current command began writing its outputs (then errors say what is left)."""
    return _CURRENT is not None and _CURRENT.started


def sidecar_path(image: Path) -> Path:
    """The sidecar JSON of an image: ``out.tif`` -> ``out.json`` (``a.ome.tif``: ``a.ome.json``)."""
    return Path(image).with_suffix(".json")


def _and(paths: list[Path]) -> str:
    names = [str(p) for p in paths]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


class OutputFiles:
    """An image and its sidecar JSON: checked now, written to temporaries, published together.

    Parameters
    ----------
    image : path
        The output image, a ``.tif`` or ``.tiff`` name (``.ome.tif`` writes OME-TIFF).
    overwrite : bool
        Replace existing outputs (regular files only, never an input).
    inputs : iterable of path
        The command's input files: never written over, under any name.
    sidecar : bool
        Write ``image`` with ``.json`` for its suffix beside the image (default True).
    extra : iterable of path
        Further TIFFs published with the image (e.g. an estimated PSF), each checked
        now and written with :meth:`write_extra`.

    Raises
    ------
    CLIError
        Now, before any work, for any output path that cannot or must not be written:
        not a TIFF name (exit 2); a missing, non-folder or read-only folder; a name
        too long; a symbolic link, folder, device, pipe or socket in the way; an input;
        an existing file without ``overwrite``; a folder where a file cannot be created
        (the check creates and removes a hidden temporary there).

    Notes
    -----
    The object is also the command's record of what is on disk: ``main`` reports
    :meth:`describe` after an error or an interruption.
    """

    def __init__(self, image: str | os.PathLike[str], *, overwrite: bool = False,
                 inputs: Iterable[str | os.PathLike[str] | None] = (),
                 sidecar: bool = True, extra: Iterable[str | os.PathLike[str]] = ()) -> None:
        global _CURRENT
        self.image = Path(image).expanduser()
        if not self.image.name.lower().endswith(TIFF_SUFFIXES) or \
                self.image.name.lower() in TIFF_SUFFIXES:
            raise CLIError(f"the output {self.image} is not a TIFF file name: give -o a name "
                           f"ending in .tif or .tiff (.ome.tif for an OME-TIFF)", EXIT_USAGE)
        self.sidecar = sidecar_path(self.image) if sidecar else None
        if self.sidecar is not None and self.sidecar == self.image:  # pragma: no cover - guard
            raise CLIError(f"the sidecar of {self.image} would be the image itself; choose "
                           f"another name with -o", EXIT_USAGE)
        self.overwrite = bool(overwrite)
        self.inputs = [Path(p).expanduser() for p in inputs if p is not None]
        check_output(self.image, self.overwrite, self.inputs)
        if self.sidecar is not None:
            check_output(self.sidecar, self.overwrite, self.inputs, "sidecar file")
        self.extra = [Path(p).expanduser() for p in extra]
        for path in self.extra:
            check_output(path, self.overwrite, self.inputs, "output file")
        #: In the order they are published: the sidecar first, the extras, the image last.
        self.paths = [p for p in (self.sidecar, *self.extra, self.image) if p is not None]
        #: The outputs that exist now (replaced only if the run completes).
        self.earlier = [p for p in self.paths if os.path.lexists(p)]
        self._probe()
        self._temporaries: dict[Path, Path] = {}
        self._state = "nothing"
        self._mixed: str | None = None
        self.started = False
        _CURRENT = self

    # -- checks --------------------------------------------------------------------------

    def _probe(self) -> None:
        """Create and remove a temporary beside the image: proves the folder takes files."""
        try:
            create_temporary(self.image).unlink()
        except OSError as exc:
            raise CLIError(f"cannot create files in the output folder {self.image.parent}: "
                           f"{_reason(exc)}; choose another folder with -o") from None

    @staticmethod
    def image_bytes(shape: Iterable[int], dtype: str = "float32") -> int:
        """Bytes of an image of ``shape`` written as ``dtype`` (pixels plus 64 kB of tags)."""
        size = 1
        for n in shape:
            size *= int(n)
        return size * (2 if dtype == "uint16" else 4) + 65536

    def check_space(self, nbytes: int) -> None:
        """Refuse, before the computation, a folder without ``nbytes`` free for the outputs.

        The earlier files (with ``overwrite``) are replaced only after the new ones
        are complete, so their space does not count as free.
        """
        try:
            free = shutil.disk_usage(self.image.parent).free
        except OSError:
            return
        if free < nbytes:
            raise CLIError(f"not enough disk space for the output: {self.image} needs about "
                           f"{format_bytes(nbytes)}, but {self.image.parent} has "
                           f"{format_bytes(free)} free; free some space or choose another "
                           f"folder with -o")

    # -- writing -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> bool:
        self.discard()
        if exc is not None and not hasattr(exc, "on_disk"):
            with contextlib.suppress(AttributeError, TypeError):
                exc.on_disk = self.describe()  # type: ignore[attr-defined]
        return False

    def write_image(self, array: Any, meta: Any = None, **options: Any) -> Path:
        """Write the image to its temporary (:func:`deconvkit.io.write_temporary`).

        ``options`` are :func:`deconvkit.io.write`'s (``spacing``, ``axes``, ``dtype``).
        Returns the temporary's path; nothing is visible until :meth:`publish`.
        """
        self.started = True
        self._discard(self.image)
        try:
            temporary = io.write_temporary(self.image, array, meta, overwrite=self.overwrite,
                                           **options)
        except OSError as exc:
            raise CLIError(f"could not write {self.image}: {_reason(exc)}",
                           EXIT_ERROR) from exc
        self._temporaries[self.image] = temporary
        return temporary

    def write_extra(self, path: str | os.PathLike[str], array: Any, meta: Any = None,
                    **options: Any) -> Path:
        """Write one of the ``extra`` TIFFs (an estimated PSF, say) to its temporary."""
        path = Path(path).expanduser()
        if path not in self.extra:
            raise ValueError(f"{path} is not one of these outputs' extra files")
        self.started = True
        self._discard(path)
        try:
            temporary = io.write_temporary(path, array, meta, overwrite=self.overwrite, **options)
        except OSError as exc:
            raise CLIError(f"could not write {path}: {_reason(exc)}", EXIT_ERROR) from exc
        self._temporaries[path] = temporary
        return temporary

    def write_sidecar(self, record: dict[str, Any]) -> Path:
        """Write the sidecar's JSON (made JSON-safe) to its temporary; return its path."""
        if self.sidecar is None:
            raise ValueError("these outputs have no sidecar (sidecar=False)")
        self.started = True
        self._discard(self.sidecar)
        temporary = None
        try:
            temporary = create_temporary(self.sidecar)
            self._temporaries[self.sidecar] = temporary
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(json_safe(record), handle, indent=2, ensure_ascii=False)
                handle.write("\n")
            fsync_file(temporary)
        except OSError as exc:
            self._discard(self.sidecar)
            raise CLIError(f"could not write {self.sidecar}: {_reason(exc)}") from exc
        return temporary

    def publish(self, record: dict[str, Any] | None = None) -> None:
        """Write the sidecar (if ``record`` is given), then put every output in place together.

        Raises
        ------
        CLIError
            A rename failed (an output changed while the command ran, the disk...):
            everything renamed is put back, and :meth:`describe` says what is on disk.
        """
        self.started = True
        if record is not None and self.sidecar is not None:
            self.write_sidecar(record)
        missing = [p for p in self.paths if p not in self._temporaries]
        if missing:
            raise RuntimeError(f"publish(): {_and(missing)} not written yet (call write_image "
                               f"and pass the sidecar's record)")
        with deferred_signals():
            kept: dict[Path, tuple[Path, str]] = {}
            placed: list[Path] = []
            try:
                for path in self.paths:
                    exists = check_replaceable(path)
                    if exists and not self.overwrite:
                        raise FileExistsError(errno.EEXIST, "it appeared while the command ran",
                                              str(path))
                    if exists:
                        kept[path] = self._keep(path)
                    self._move(self._temporaries[path], path)
                    del self._temporaries[path]
                    placed.append(path)
                fsync_folder(self.image.parent)
            except BaseException as exc:
                self._roll_back(placed, kept)
                self._discard_all()
                if isinstance(exc, OSError):
                    raise CLIError(f"could not put {exc.filename or self.image} in place: "
                                   f"{_reason(exc)}") from exc
                raise
            self._state = "published"
            for backup, _ in kept.values():
                with contextlib.suppress(OSError):
                    os.unlink(backup)

    def _move(self, temporary: Path, path: Path) -> None:
        if self.overwrite:
            os.replace(temporary, path)
            return
        try:
            os.link(temporary, path)  # refuses an existing name, atomically
        except FileExistsError:
            raise FileExistsError(errno.EEXIST, "it appeared while the command ran",
                                  str(path)) from None
        except OSError:  # no hard links here
            if os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, "it appeared while the command ran",
                                      str(path)) from None
            os.replace(temporary, path)
        else:
            os.unlink(temporary)

    @staticmethod
    def _keep(path: Path) -> tuple[Path, str]:
        """Keep an earlier output under a hidden name: a hard link, else a rename aside."""
        backup = create_temporary(path, tag="old")
        try:
            os.unlink(backup)
            os.link(path, backup)
            return backup, "link"
        except OSError:
            os.replace(path, backup)
            return backup, "moved"

    def _roll_back(self, placed: list[Path], kept: dict[Path, tuple[Path, str]]) -> None:
        """Put the earlier outputs back (or remove new ones that had none)."""
        state: dict[Path, str] = {p: ("earlier" if p in self.earlier else "none")
                                  for p in self.paths}
        for path in placed:
            state[path] = "new"
        left: list[str] = []
        for path in reversed(placed):
            try:
                if path in kept:
                    os.replace(kept.pop(path)[0], path)
                    state[path] = "earlier"
                else:
                    os.unlink(path)
                    state[path] = "none"
            except OSError:
                pass
        for path, (backup, how) in list(kept.items()):
            try:
                if how == "moved":
                    os.replace(backup, path)
                else:
                    os.unlink(backup)
                del kept[path]
            except OSError:
                if how == "moved":
                    state[path] = "none"
        for path, (backup, _) in kept.items():
            left.append(f"the earlier {path.name} is kept as {backup}")
        if all(state[p] == ("earlier" if p in self.earlier else "none") for p in self.paths) \
                and not left:
            return
        words = {"new": "is the new one", "earlier": "is the earlier one, unchanged",
                 "none": "is not there"}
        parts = [f"{p} {words[state[p]]}" for p in self.paths] + left
        self._state, self._mixed = "mixed", "; ".join(parts)

    # -- clean-up and reporting ---------------------------------------------------------

    def _discard(self, path: Path) -> None:
        temporary = self._temporaries.pop(path, None)
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    def _discard_all(self) -> None:
        for path in list(self._temporaries):
            self._discard(path)

    def discard(self) -> None:
        """Remove the temporaries not yet published (signals held back meanwhile)."""
        with deferred_signals():
            self._discard_all()

    @property
    def published(self) -> bool:
        """Whether every output is in place."""
        return self._state == "published"

    def describe(self) -> str:
        """What is on disk, in words: nothing written / the earlier files unchanged / written."""
        if self._state == "published":
            return f"{_and(self.paths[::-1])} {'was' if len(self.paths) == 1 else 'were'} written"
        if self._state == "mixed" and self._mixed:
            return self._mixed
        if self.earlier:
            verb = "is" if len(self.earlier) == 1 else "are"
            return f"nothing was written; the earlier {_and(self.earlier[::-1])} {verb} unchanged"
        return "nothing was written"


class ZarrOutput:
    """An OME-Zarr output and its sidecar: checked now, built under ``NAME.partial``, published.

    The tiles are written into ``NAME.partial`` (:func:`deconvkit.io.create_zarr`) as
    they are solved; :meth:`publish` writes the sidecar and renames the folder to
    ``NAME``. After a failure or a signal the ``.partial`` folder stays, with the
    finished tiles recorded, for ``--resume``; an existing ``NAME`` is replaced
    (``--overwrite``) only if deconvkit wrote it.
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False,
                 inputs: Iterable[str | os.PathLike[str] | None] = (), resume: bool = False) -> None:
        global _CURRENT
        self.image = Path(path).expanduser()
        self.overwrite, self.resume = bool(overwrite), bool(resume)
        self.inputs = [Path(p).expanduser().resolve() for p in inputs if p is not None]
        self.building = io.partial_path(self.image)
        self.sidecar = self.image.with_name(self.image.name.rsplit(".zarr", 1)[0] + ".json")
        folder = self.image.parent
        if not folder.is_dir():
            raise CLIError(f"output folder does not exist: {folder}; create it first (mkdir -p) "
                           f"or choose another output with -o")
        target = self.image.resolve()
        for given in self.inputs:
            if given == target or target in given.parents:
                raise CLIError(f"refusing to write over the input {given}: choose another output "
                               f"name with -o")
        if os.path.lexists(self.image):
            if not self.overwrite:
                raise CLIError(f"output already exists: {self.image}; pass --overwrite to "
                               f"replace it, or choose another name with -o")
            if self.image.is_symlink() or not _written_by_deconvkit(self.image):
                raise CLIError(f"refusing to replace {self.image}: deconvkit did not write it "
                               f"(no deconvkit mark in its attributes); choose another output")
        if self.building.exists() and not self.resume:
            raise CLIError(f"an unfinished run left {self.building}: pass --resume to finish "
                           f"it (the same command and options), or remove that folder")
        if self.resume and not self.building.exists():
            raise CLIError(f"--resume: there is no unfinished run to resume ({self.building} "
                           f"does not exist)", EXIT_USAGE)
        check_output(self.sidecar, self.overwrite, [Path(p) for p in self.inputs], "sidecar file")
        self.array = None
        self._state = "nothing"
        self.started = False
        _CURRENT = self

    def check_space(self, nbytes: int) -> None:
        """Refuse a folder without ``nbytes`` free (the image uncompressed, float32)."""
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(self.image.parent).free
            if free < nbytes:
                raise CLIError(f"not enough disk space for the output: {self.image} needs up "
                               f"to {format_bytes(nbytes)}, but {self.image.parent} has "
                               f"{format_bytes(free)} free")

    def create(self, shape: tuple[int, ...], axes: str, spacing: Any, chunks: tuple[int, ...],
               name: str = "") -> Any:
        """The ``.partial`` group's image array (reopened with ``--resume``), chunked by tile."""
        chunks = (1,) * (len(shape) - len(chunks)) + tuple(chunks)
        self.started = True
        self._state = "building"
        try:
            self.array = io.create_zarr(self.image, shape, axes=axes, spacing=spacing,
                                        chunks=chunks, name=name, resume=self.resume,
                                        record={"writer": "deconvkit deconvolve"})
        except (FileExistsError, ValueError) as exc:
            raise CLIError(str(exc)) from None
        return self.array

    def __enter__(self) -> ZarrOutput:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, trace: Any) -> bool:
        if exc is not None and not hasattr(exc, "on_disk"):
            with contextlib.suppress(AttributeError, TypeError):
                exc.on_disk = self.describe()  # type: ignore[attr-defined]
        return False

    def publish(self, record: dict[str, Any]) -> None:
        """Write the sidecar, record it in the store, and rename ``NAME.partial`` to ``NAME``."""
        import zarr

        group = zarr.open_group(str(self.building), mode="r+")
        group.attrs["deconvkit"] = json_safe({"writer": "deconvkit deconvolve", **record})
        temporary = create_temporary(self.sidecar)
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(json_safe(record), handle, indent=2, ensure_ascii=False)
                handle.write("\n")
            fsync_file(temporary)
            with deferred_signals():
                if os.path.lexists(self.sidecar) and not self.overwrite:
                    raise CLIError(f"sidecar file already exists: {self.sidecar}; pass "
                                   f"--overwrite to replace it")
                io.publish_zarr(self.image, overwrite=self.overwrite)
                os.replace(temporary, self.sidecar)
                fsync_folder(self.image.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        self._state = "published"

    @property
    def published(self) -> bool:
        return self._state == "published"

    def describe(self) -> str:
        """What is on disk now, in one line."""
        if self._state == "published":
            return f"{self.image} and {self.sidecar} were written"
        if self._state == "building" and self.building.exists():
            return (f"the tiles finished so far are in {self.building}; run the same command "
                    f"with --resume to finish it")
        return "nothing was written"


def _written_by_deconvkit(path: Path) -> bool:
    try:
        import zarr

        return "deconvkit" in dict(zarr.open_group(str(path), mode="r").attrs)
    except Exception:  # noqa: BLE001 - not a zarr group at all
        return False
