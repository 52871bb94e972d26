"""Bad input to read() and write(): each error names the problem, the path and the fix."""

import os
import tempfile
import warnings

import numpy as np
import pytest
import tifffile

from deconvkit.io import ImageMeta, ImageReadError, read, write

RNG = np.random.default_rng(3)


def volume(shape=(4, 6, 8)):
    return RNG.random(shape).astype(np.float32)


# reading -------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*nothere\.tif.*check"):
        read(tmp_path / "nothere.tif")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not an image file"):
        read(tmp_path)


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(0).bytes(2000), b"", b"II*\x00", b"hello, I am a text file\n" * 20],
    ids=["random", "empty", "header-only", "text"],
)
def test_not_a_tiff(tmp_path, content):
    path = tmp_path / "fake.tif"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=r"not a readable TIFF file: .*fake\.tif"):
        read(path)


def test_read_error_is_a_value_error(tmp_path):
    (tmp_path / "fake.tif").write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a readable TIFF file"):
        read(tmp_path / "fake.tif")


def _quiet_read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(path)


@pytest.mark.parametrize(
    "flavor",
    [
        dict(imagej=True, metadata={"axes": "ZYX"}),
        dict(ome=True, metadata={"axes": "ZYX"}),
        dict(metadata=None),
        dict(compression="zlib", metadata=None),
    ],
    ids=["imagej", "ome", "plain", "zlib"],
)
def test_truncated_tiff(tmp_path, flavor):
    """Cut anywhere in the pixel data, a file never reads as a (wrong) image."""
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, (RNG.random((6, 32, 32)) * 1000).astype(np.uint16), **flavor)
    content = full.read_bytes()
    cut = tmp_path / "cut.tif"
    for size in (16, 200, len(content) // 3, len(content) // 2, 2 * len(content) // 3):
        cut.write_bytes(content[:size])
        with pytest.raises(ImageReadError, match=r"not a readable TIFF file: .*cut\.tif"):
            _quiet_read(cut)


def test_truncated_message_says_what_to_do(tmp_path):
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, np.ones((6, 32, 32), np.uint16), imagej=True, metadata={"axes": "ZYX"})
    (tmp_path / "cut.tif").write_bytes(full.read_bytes()[:5000])
    with pytest.raises(ImageReadError, match="truncated or corrupt.*Fiji"):
        _quiet_read(tmp_path / "cut.tif")


def test_complex_pixels_are_refused(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", np.ones((3, 4, 5), np.complex64), photometric="minisblack")
    with pytest.raises(ImageReadError, match="complex64 pixels.*integer and real images only"):
        read(tmp_path / "c.tif")


# writing -------------------------------------------------------------------------------


def test_missing_output_folder(tmp_path):
    folder = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError, match=r"output folder does not exist: .*no/such.*create"):
        write(folder / "out.tif", volume())


def test_output_folder_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"output folder is not a folder: .*file"):
        write(tmp_path / "file" / "out.tif", volume())


def test_output_path_is_a_folder(tmp_path):
    (tmp_path / "out.tif").mkdir()
    with pytest.raises(IsADirectoryError, match=r"output path is a folder: .*out\.tif"):
        write(tmp_path / "out.tif", volume())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_output_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=r"output folder is not writable: .*locked"):
            write(folder / "out.tif", volume())
    finally:
        folder.chmod(0o700)


def test_unwritable_folder_found_by_access_check(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(PermissionError, match=f"output folder is not writable: {tmp_path}"):
        write(tmp_path / "out.tif", volume())
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_found_when_creating_the_file(tmp_path, monkeypatch):
    """As root, access() says yes; a refusal by the file system itself is reported the same."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=f"output folder is not writable: {tmp_path}"):
        write(tmp_path / "out.tif", volume())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_is_refused(tmp_path, bad):
    data = volume()
    data[1, 2, 3] = bad
    with pytest.raises(ValueError, match=r"1 NaN or infinite values; replace them"):
        write(tmp_path / "out.tif", data)
    assert list(tmp_path.iterdir()) == []


def test_float32_overflow_is_refused(tmp_path):
    with pytest.raises(ValueError, match="exceed the float32 range"):
        write(tmp_path / "out.tif", np.full((2, 3, 4), 1e300))


def test_wrong_ndim_for_axes(tmp_path):
    with pytest.raises(ValueError, match=r"array has 3 dimensions .* axes 'CZYX' name 4.*axes="):
        write(tmp_path / "out.tif", volume(), ImageMeta(axes="CZYX"))
    with pytest.raises(ValueError, match=r"axes 'TCZYX' name 5"):
        write(tmp_path / "out.tif", volume(), axes="TCZYX")


def test_too_many_dimensions(tmp_path):
    with pytest.raises(ValueError, match="cannot write a 6-dimensional array.*TCZYX"):
        write(tmp_path / "out.tif", np.zeros((1, 1, 1, 1, 2, 2)))


def test_bad_axes_names(tmp_path):
    with pytest.raises(ValueError, match="axes 'ZCYX' are not supported"):
        write(tmp_path / "out.tif", volume((2, 3, 4, 5)), axes="ZCYX")


def test_bad_dtype(tmp_path):
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'uint16', got 'uint8'"):
        write(tmp_path / "out.tif", volume(), dtype="uint8")


def test_complex_array_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot write complex128 values: give a real-valued"):
        write(tmp_path / "out.tif", np.ones((2, 3, 4), complex))


@pytest.mark.parametrize("spacing", [(0.1, 0.1), (0.3, 0.0, 0.1), (0.3, np.nan, 0.1), "big"])
def test_bad_spacing(tmp_path, spacing):
    with pytest.raises(ValueError, match=r"spacing must be three positive numbers \(dz, dy, dx\)"):
        write(tmp_path / "out.tif", volume(), spacing=spacing)


def test_unmappable_axes(tmp_path):
    """Two unnamed page axes (tifffile's 'QQ'): which one is Z cannot be known."""
    tifffile.imwrite(tmp_path / "q.tif", np.zeros((2, 7, 4, 5), np.uint16))
    with pytest.raises(ImageReadError, match=r"axes 'QQYX' .* do not map to TCZYX.*Hyperstacks"):
        read(tmp_path / "q.tif")
