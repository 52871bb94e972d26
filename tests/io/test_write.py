"""write(): ImageJ hyperstacks with voxel size and axes, uint16 scaling, atomic and safe."""

import os
import stat

import numpy as np
import pytest
import tifffile

from deconvkit.io import ImageMeta, read, to_uint16, write

RNG = np.random.default_rng(7)


def volume(shape=(4, 6, 8)):
    return RNG.random(shape).astype(np.float32)


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


# round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", [(0.3, 0.1, 0.1), (0.2, 0.065, 0.065), (1.0, 1.0, 1.0)])
def test_spacing_round_trip(tmp_path, spacing):
    data = volume()
    path = write(tmp_path / "out.tif", data, spacing=spacing)
    image, meta = read(path)
    np.testing.assert_array_equal(image, data)
    assert meta.spacing == pytest.approx(spacing, rel=1e-6)
    assert meta.axes == "ZYX" and meta.source_dtype == "float32"


def test_resolution_tag_holds_pixels_per_um_not_the_pixel_size(tmp_path):
    """The classic bug: writing dx instead of 1/dx. Fiji reads the tags, so check them."""
    path = write(tmp_path / "out.tif", volume(), spacing=(0.3, 0.2, 0.1))
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        x_num, x_den = page.tags["XResolution"].value
        y_num, y_den = page.tags["YResolution"].value
        assert x_num / x_den == pytest.approx(10.0) and y_num / y_den == pytest.approx(5.0)
        assert tif.imagej_metadata["spacing"] == pytest.approx(0.3)
        assert tif.imagej_metadata["unit"] == "um"


def test_nm_file_round_trips_in_um(tmp_path):
    source = tmp_path / "nm.tif"
    tifffile.imwrite(
        source, volume(), imagej=True, resolution=(1 / 100, 1 / 100),
        metadata={"axes": "ZYX", "spacing": 300.0, "unit": "nm"},
    )
    image, meta = read(source)
    assert meta.spacing == pytest.approx((0.3, 0.1, 0.1), rel=1e-6)
    again = read(write(tmp_path / "um.tif", image, meta))[1]
    assert again.spacing == pytest.approx((0.3, 0.1, 0.1), rel=1e-6) and again.source_unit == "um"


@pytest.mark.parametrize("axes, shape", [("CZYX", (2, 3, 5, 6)), ("TZYX", (2, 3, 5, 6)),
                                         ("TCZYX", (2, 3, 4, 5, 6))])
def test_axes_round_trip(tmp_path, axes, shape):
    data = volume(shape)
    path = write(tmp_path / "out.tif", data, ImageMeta(spacing=(0.3, 0.1, 0.1), axes=axes))
    image, meta = read(path)
    assert meta.axes == axes
    np.testing.assert_array_equal(image, data)
    assert meta.spacing == pytest.approx((0.3, 0.1, 0.1), rel=1e-6)
    with tifffile.TiffFile(path) as tif:  # ImageJ's own order inside the file
        assert tif.series[0].axes == "".join(a for a in "TZCYX" if a in axes)


def test_2d_array_is_written_as_one_plane(tmp_path):
    data = volume((6, 8))
    image, meta = read(write(tmp_path / "out.tif", data, spacing=(1.0, 0.1, 0.1)))
    assert image.shape == (1, 6, 8) and meta.axes == "ZYX"
    np.testing.assert_array_equal(image[0], data)


def test_meta_gives_axes_and_spacing_and_keywords_override(tmp_path):
    meta = ImageMeta(spacing=(0.3, 0.1, 0.1), axes="CZYX")
    path = write(tmp_path / "out.tif", volume((2, 3, 5, 6)), meta, spacing=(0.5, 0.2, 0.2))
    assert read(path)[1].spacing == pytest.approx((0.5, 0.2, 0.2), rel=1e-6)
    path = write(tmp_path / "tz.tif", volume((2, 3, 5, 6)), meta, axes="TZYX")
    assert read(path)[1].axes == "TZYX"


def test_without_spacing_the_file_is_uncalibrated(tmp_path):
    meta = read(write(tmp_path / "out.tif", volume()))[1]
    assert meta.spacing is None and meta.unit == "pixel"


def test_float64_and_integer_arrays_are_written_as_float32(tmp_path):
    data = RNG.random((3, 5, 6))
    image, meta = read(write(tmp_path / "f.tif", data))
    assert meta.source_dtype == "float32"
    np.testing.assert_allclose(image, data, rtol=1e-7)
    ints = RNG.integers(0, 1000, (3, 5, 6))
    np.testing.assert_array_equal(read(write(tmp_path / "i.tif", ints))[0], ints)


def test_file_permissions_follow_the_umask(tmp_path):
    path = write(tmp_path / "out.tif", volume())
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


# uint16 -------------------------------------------------------------------------------------


def test_uint16_round_trip_within_quantization(tmp_path):
    data = volume() * 1234.5
    image, meta = read(write(tmp_path / "u.tif", data, spacing=(0.3, 0.1, 0.1), dtype="uint16"))
    offset, step = meta.calibration
    assert meta.source_dtype == "uint16" and offset == 0.0
    assert step == pytest.approx(data.max() / 65535)
    np.testing.assert_allclose(image, data, atol=step / 2 + 1e-5 * data.max())
    assert meta.spacing == pytest.approx((0.3, 0.1, 0.1), rel=1e-6)


def test_uint16_file_stores_scaling_as_imagej_calibration(tmp_path):
    data = volume() * 10
    path = write(tmp_path / "u.tif", data, dtype="uint16")
    stored, offset, step = to_uint16(data)
    with tifffile.TiffFile(path) as tif:
        raw = tif.asarray()
        info = tif.imagej_metadata
    assert raw.dtype == np.uint16 and raw.max() == 65535
    np.testing.assert_array_equal(raw, stored)
    assert (info["cf"], info["c0"], info["c1"]) == (0, offset, pytest.approx(step, rel=1e-12))


def test_to_uint16_maps_zero_to_max_onto_full_range():
    data = np.array([0.0, 0.5, 1.0, 2.0], np.float32)
    stored, offset, step = to_uint16(data)
    assert offset == 0.0 and step == pytest.approx(2.0 / 65535)
    np.testing.assert_array_equal(stored, [0, 16384, 32768, 65535])


def test_to_uint16_keeps_negative_values_with_an_offset(tmp_path):
    data = np.linspace(-2.0, 6.0, 5 * 6 * 7, dtype=np.float32).reshape(5, 6, 7)
    stored, offset, step = to_uint16(data)
    assert offset == -2.0 and stored.min() == 0 and stored.max() == 65535
    np.testing.assert_allclose(offset + step * stored.astype(float), data, atol=step / 2 + 1e-6)
    image = read(write(tmp_path / "n.tif", data, dtype="uint16"))[0]
    np.testing.assert_allclose(image, data, atol=step / 2 + 1e-5)


def test_to_uint16_of_zeros_is_zeros():
    stored, offset, step = to_uint16(np.zeros((2, 3)))
    assert stored.dtype == np.uint16 and not stored.any() and (offset, step) == (0.0, 1.0)


# safety ------------------------------------------------------------------------------------


def test_refuses_to_overwrite_unless_asked(tmp_path):
    path = write(tmp_path / "out.tif", volume())
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"out\.tif.*overwrite=True \(--overwrite"):
        write(path, volume())
    assert path.read_bytes() == before
    new = volume((2, 3, 4))
    write(path, new, overwrite=True)
    np.testing.assert_array_equal(read(path)[0], new)
    assert files_in(tmp_path) == ["out.tif"]


def test_never_writes_over_the_input(tmp_path):
    source = write(tmp_path / "in.tif", volume(), spacing=(0.3, 0.1, 0.1))
    image, meta = read(source)
    with pytest.raises(ValueError, match=r"refusing to write over the input image .*in\.tif"):
        write(source, image + 1, meta, overwrite=True)
    np.testing.assert_array_equal(read(source)[0], image)


def _fail_halfway(path, data, **kwargs):
    with open(path, "wb") as handle:
        handle.write(b"II*\x00partial")
    raise OSError("disk full (simulated)")


def test_failure_mid_write_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(tifffile, "imwrite", _fail_halfway)
    with pytest.raises(OSError, match="simulated"):
        write(tmp_path / "out.tif", volume())
    assert files_in(tmp_path) == []


def test_failure_mid_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    path = write(tmp_path / "out.tif", volume())
    before = path.read_bytes()
    monkeypatch.setattr(tifffile, "imwrite", _fail_halfway)
    with pytest.raises(OSError, match="simulated"):
        write(path, volume(), overwrite=True)
    assert path.read_bytes() == before and files_in(tmp_path) == ["out.tif"]


def test_interrupt_mid_write_removes_the_temporary(tmp_path, monkeypatch):
    def interrupted(path, data, **kwargs):
        open(path, "wb").close()
        raise KeyboardInterrupt

    monkeypatch.setattr(tifffile, "imwrite", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write(tmp_path / "out.tif", volume())
    assert files_in(tmp_path) == []


def test_file_appearing_during_the_write_is_not_replaced(tmp_path, monkeypatch):
    real = tifffile.imwrite
    target = tmp_path / "out.tif"

    def racing(path, data, **kwargs):
        real(path, data, **kwargs)
        target.write_bytes(b"someone else's result")

    monkeypatch.setattr(tifffile, "imwrite", racing)
    with pytest.raises(FileExistsError, match=r"out\.tif.*overwrite"):
        write(target, volume())
    assert target.read_bytes() == b"someone else's result" and files_in(tmp_path) == ["out.tif"]
