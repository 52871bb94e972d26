"""Studies written as TOML files.

.. code-block:: toml

    [study]
    name = "beads and filaments"
    metric = "nrmse"            # or "psnr", "ssim"

    [[case]]                    # simulated: a phantom through a simulated microscope
    name = "mixed"
    shape = [32, 96, 96]        # the camera's field, voxels (z, y, x)
    spacing = [0.2, 0.1, 0.1]   # µm
    phantom = "mixed"
    photons = 200
    background = 10
    seed = 0
    psf = { model = "born_wolf", shape = [25, 49, 49], na = 1.3, wavelength = 0.52, ni = 1.515 }

    [[case]]                    # files: paths relative to this file
    name = "measured"
    image = "data/image.tif"
    psf = "data/psf.tif"
    ground_truth = "data/truth.tif"
    background = 100

    [methods.rl]
    max_iter = 200              # not a grid axis: every iteration is scored

    [methods.rltv]
    max_iter = 100
    lam = [1e-4, 1e-3, 1e-2]   # a list is a grid axis

    [methods.trif]
    lam = { start = 1e-4, stop = 1e-1, num = 4 }   # log-spaced values

    [methods.admm-tv-gaussian] # a label of your own, with the method named inside
    method = "admm-tv"
    data = "gaussian"
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._cases import FileCase, SimulatedCase
from ._grid import MAX_RUNS, MethodGrid, check_study_size, log_range
from ._study import METRICS, Study

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["load_study", "study_from_dict"]

TOP_LEVEL = ("study", "case", "methods")
STUDY_KEYS = ("name", "metric", "record_every")
SIMULATED_KEYS = ("name", "shape", "spacing", "phantom", "photons", "background", "read_noise",
                  "seed", "psf")
FILE_KEYS = ("name", "image", "psf", "ground_truth", "spacing", "background")
RANGE_KEYS = ("start", "stop", "num", "scale")


def _refuse_unknown(table: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise ValueError(f"{where}: unknown key {', '.join(map(repr, unknown))}; "
                         f"allowed: {', '.join(allowed)}")


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table, got {value!r}")  # noqa: TRY004 - user input
    return value


def _values(value: Any, where: str) -> Any:
    """A TOML value as a grid axis (list), a range table expanded, or a fixed value."""
    if not isinstance(value, dict):
        return value
    _refuse_unknown(value, RANGE_KEYS, where)
    missing = [k for k in ("start", "stop", "num") if k not in value]
    if missing:
        raise ValueError(f"{where}: a range needs start, stop and num (missing "
                         f"{', '.join(missing)})")
    num = value["num"]
    if isinstance(num, float) and num.is_integer():
        num = int(num)  # num = 1e3 is a TOML float
        value = {**value, "num": num}
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"{where}: num must be a positive whole number, got {num!r}")
    if num > MAX_RUNS:  # counted before anything is expanded
        raise ValueError(f"{where}: num = {num:,} values is more than a study may run (at "
                         f"most {MAX_RUNS:,} runs); use fewer values")
    scale = value.get("scale", "log")
    if scale == "log":
        return log_range(value["start"], value["stop"], value["num"])
    if scale == "linear":
        step = (value["stop"] - value["start"]) / max(num - 1, 1)
        return [float(f"{value['start'] + i * step:.6g}") for i in range(num)]
    raise ValueError(f"{where}: scale must be 'log' or 'linear', got {scale!r}")


def _case(table: dict[str, Any], index: int, folder: Path):
    where = f"case {index + 1}" + (f" ({table['name']!r})" if "name" in table else "")
    if "name" not in table:
        raise ValueError(f"{where}: every case needs a name")
    if "image" in table:
        _refuse_unknown(table, FILE_KEYS, where)
        missing = [k for k in ("psf", "ground_truth") if k not in table]
        if missing:
            raise ValueError(f"{where}: a case from files needs image, psf and ground_truth "
                             f"(missing {', '.join(missing)})")
        paths = {k: folder / str(table[k]) for k in ("image", "psf", "ground_truth")}
        for key, path in paths.items():
            if not path.is_file():
                raise FileNotFoundError(f"{where}: {key} file {path} not found")
        return FileCase(table["name"], spacing=table.get("spacing"),
                        background=table.get("background", 0.0), **paths)
    _refuse_unknown(table, SIMULATED_KEYS, where + " (simulated; a case from files has image, "
                    "psf and ground_truth paths)")
    options = dict(table)
    psf = dict(_table(options.pop("psf", {}), f"{where}: psf"))
    arguments: dict[str, Any] = {k: options[k] for k in options}
    if "model" in psf:
        arguments["psf_model"] = psf.pop("model")
    if "shape" in psf:
        arguments["psf_shape"] = psf.pop("shape")
    if psf:
        arguments["psf_options"] = psf
    try:
        return SimulatedCase(**arguments)
    except TypeError as error:  # a wrong type deep inside, said plainly
        raise ValueError(f"{where}: {error}") from None


def study_from_dict(document: dict[str, Any], folder: str | os.PathLike[str] = ".",
                    source: str = "the study") -> Study:
    """A :class:`Study` from a parsed TOML document; paths relative to ``folder``."""
    _refuse_unknown(document, TOP_LEVEL, f"{source}: top level")
    header = _table(document.get("study", {}), f"{source}: [study]")
    _refuse_unknown(header, STUDY_KEYS, f"{source}: [study]")
    if header.get("metric", "nrmse") not in METRICS:
        raise ValueError(f"{source}: [study] metric must be one of {', '.join(METRICS)}, "
                         f"got {header['metric']!r}")
    cases = document.get("case", [])
    if not isinstance(cases, list) or not cases:
        raise ValueError(f"{source}: no case; add at least one [[case]] table")
    tables = _table(document.get("methods", {}), f"{source}: [methods]")
    if not tables:
        raise ValueError(f"{source}: no method; add at least one [methods.NAME] table")
    folder = Path(folder)
    try:
        loaded_cases = [_case(_table(c, f"case {i + 1}"), i, folder) for i, c in enumerate(cases)]
        grids = []
        for label, table in tables.items():
            table = dict(_table(table, f"[methods.{label}]"))
            method = table.pop("method", label)
            where = f"[methods.{label}]"
            values = {k: _values(v, f"{where} {k}") for k, v in table.items()}
            grid = {k: v for k, v in values.items() if isinstance(v, list)}
            params = {k: v for k, v in values.items() if not isinstance(v, list)}
            try:
                grids.append(MethodGrid(method, grid, params, label))
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
        check_study_size(len(loaded_cases), grids)
        return Study(loaded_cases, grids, metric=header.get("metric", "nrmse"),
                     name=header.get("name", "deconvkit study"),
                     record_every=header.get("record_every", 1))
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None


def load_study(path: str | os.PathLike[str]) -> Study:
    """Read a study from a TOML file (see the module notes for its keys).

    Raises
    ------
    FileNotFoundError
        No such file, or a case's file is missing.
    ValueError
        Invalid TOML, or an unknown key, method, parameter or value; the
        message names the file and the table.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"study file {path} not found")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    return study_from_dict(document, path.parent, str(path))
