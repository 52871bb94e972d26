"""read(): ImageJ, OME and plain TIFFs give float32 TCZYX arrays and the voxel size in µm."""

import warnings

import numpy as np
import pytest
import tifffile

from deconvkit.io import ImageMeta, iter_volumes, read

RNG = np.random.default_rng(12)


def stack(shape, dtype="uint16"):
    values = RNG.random(shape) * 1000
    return values.astype(dtype)


def imagej(path, data, axes, spacing=None, unit="um", **extra):
    """An ImageJ TIFF as Fiji writes it: resolution in pixels per unit, dz as ``spacing``."""
    kwargs = {}
    metadata = {"axes": axes, **extra}
    if spacing is not None:
        dz, dy, dx = spacing
        kwargs["resolution"] = (1 / dx, 1 / dy)
        metadata.update(spacing=dz, unit=unit)
    tifffile.imwrite(path, data, imagej=True, metadata=metadata, **kwargs)
    return path


def ome(path, data, axes, **sizes):
    tifffile.imwrite(path, data, ome=True, metadata={"axes": axes, **sizes})
    return path


# ImageJ ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint16", "float32", "uint8", "int16"])
def test_imagej_zyx_values_dtype_spacing(tmp_path, dtype):
    data = stack((5, 12, 14), dtype)
    path = imagej(tmp_path / "a.tif", data, "ZYX", spacing=(0.3, 0.1, 0.1))
    image, meta = read(path)
    assert image.dtype == np.float32 and image.flags.c_contiguous
    np.testing.assert_array_equal(image, data.astype(np.float32))
    assert meta.axes == "ZYX"
    assert meta.spacing == pytest.approx((0.3, 0.1, 0.1), rel=1e-6)
    assert meta.unit == "µm" and meta.flavor == "imagej" and meta.path == path
    assert meta.source_dtype == dtype


def test_float64_plain_tiff_becomes_float32(tmp_path):
    data = RNG.random((3, 8, 9))
    tifffile.imwrite(tmp_path / "f.tif", data, photometric="minisblack", metadata={"axes": "ZYX"})
    image, meta = read(tmp_path / "f.tif")
    assert image.dtype == np.float32 and meta.source_dtype == "float64"
    np.testing.assert_allclose(image, data, rtol=1e-7)


def test_imagej_2d_is_one_plane_zyx(tmp_path):
    data = stack((12, 14))
    image, meta = read(imagej(tmp_path / "a.tif", data, "YX", spacing=(1.0, 0.2, 0.1)))
    assert image.shape == (1, 12, 14) and meta.axes == "ZYX"
    np.testing.assert_array_equal(image[0], data)
    assert meta.spacing == pytest.approx((1.0, 0.2, 0.1), rel=1e-6)


@pytest.mark.parametrize(
    "unit, factor",
    [("um", 1), ("micron", 1), ("\\u00B5m", 1), ("nm", 1e-3), ("mm", 1e3)],
)
def test_imagej_units_are_converted_to_um(tmp_path, unit, factor):
    data = stack((4, 6, 8))
    path = imagej(tmp_path / "a.tif", data, "ZYX", spacing=(300.0, 100.0, 50.0), unit=unit)
    meta = read(path)[1]
    assert meta.spacing == pytest.approx((300 * factor, 100 * factor, 50 * factor), rel=1e-6)
    assert meta.source_unit == unit and meta.unit == "µm"


@pytest.mark.parametrize(
    "raw", [b"\xb5m", "µm".encode(), "μm".encode()], ids=["latin1", "micro", "mu"]
)
def test_imagej_non_ascii_micrometre(tmp_path, raw):
    """Older ImageJ wrote the µ sign itself; tifffile only writes ASCII, so patch the bytes."""
    placeholder = b"unit=" + b"u" * len(raw)
    path = imagej(tmp_path / "a.tif", stack((4, 6, 8)), "ZYX", (0.3, 0.1, 0.1), unit="u" * len(raw))
    content = path.read_bytes()
    assert content.count(placeholder) == 1
    path.write_bytes(content.replace(placeholder, b"unit=" + raw))
    assert read(path)[1].spacing == pytest.approx((0.3, 0.1, 0.1), rel=1e-6)


def test_imagej_without_spacing_means_one_unit(tmp_path):
    """ImageJ writes ``spacing=`` only when the voxel depth is not 1."""
    tifffile.imwrite(
        tmp_path / "a.tif", stack((4, 6, 8)), imagej=True, resolution=(10, 10),
        metadata={"axes": "ZYX", "unit": "nm"},
    )
    assert read(tmp_path / "a.tif")[1].spacing == pytest.approx((1e-3, 1e-4, 1e-4))


def test_imagej_zunit_differs_from_unit(tmp_path):
    path = imagej(tmp_path / "a.tif", stack((4, 6, 8)), "ZYX", (500, 0.1, 0.1), zunit="nm")
    assert read(path)[1].spacing == pytest.approx((0.5, 0.1, 0.1), rel=1e-6)


@pytest.mark.parametrize("unit", [None, "pixel"])
def test_uncalibrated_imagej_has_no_spacing(tmp_path, unit):
    extra = {} if unit is None else {"unit": unit}
    tifffile.imwrite(
        tmp_path / "a.tif", stack((3, 6, 8)), imagej=True, resolution=(1, 1),
        metadata={"axes": "ZYX", **extra},
    )
    meta = read(tmp_path / "a.tif")[1]
    assert meta.spacing is None and meta.unit == "pixel"


def test_imagej_hyperstack_czyx(tmp_path):
    data = stack((4, 3, 6, 8))  # ImageJ order: Z, C, Y, X
    image, meta = read(imagej(tmp_path / "a.tif", data, "ZCYX", spacing=(0.3, 0.1, 0.1)))
    assert meta.axes == "CZYX" and image.shape == (3, 4, 6, 8)
    np.testing.assert_array_equal(image, data.transpose(1, 0, 2, 3))
    assert meta.spacing == pytest.approx((0.3, 0.1, 0.1), rel=1e-6)


def test_imagej_hyperstack_tczyx(tmp_path):
    data = stack((2, 4, 3, 6, 8))  # T, Z, C, Y, X
    image, meta = read(imagej(tmp_path / "a.tif", data, "TZCYX", spacing=(0.3, 0.1, 0.1)))
    assert meta.axes == "TCZYX" and image.shape == (2, 3, 4, 6, 8)
    np.testing.assert_array_equal(image, data.transpose(0, 2, 1, 3, 4))


def test_imagej_time_without_z_warns(tmp_path):
    with pytest.warns(UserWarning, match="time points of single planes"):
        image, meta = read(imagej(tmp_path / "a.tif", stack((5, 6, 8)), "TYX"))
    assert meta.axes == "TZYX" and image.shape == (5, 1, 6, 8)


def test_imagej_linear_calibration_is_applied(tmp_path):
    """ImageJ stores signed 16-bit as uint16 with the calibration value = -32768 + 1 * stored."""
    signed = RNG.integers(-500, 500, (3, 6, 8))
    stored = (signed + 32768).astype(np.uint16)
    extra = {"cf": 0, "c0": -32768.0, "c1": 1.0, "vunit": "Gray Value"}
    image, meta = read(imagej(tmp_path / "a.tif", stored, "ZYX", (1, 1, 1), **extra))
    np.testing.assert_array_equal(image, signed)
    assert meta.calibration == (-32768.0, 1.0)


def test_rgb_samples_become_channels(tmp_path):
    data = stack((10, 12, 3), "uint8")
    tifffile.imwrite(tmp_path / "rgb.tif", data, photometric="rgb")
    image, meta = read(tmp_path / "rgb.tif")
    assert meta.axes == "CZYX" and image.shape == (3, 1, 10, 12)
    np.testing.assert_array_equal(image[:, 0], data.transpose(2, 0, 1))


# OME --------------------------------------------------------------------------------


def test_ome_czyx_with_units(tmp_path):
    data = stack((2, 4, 6, 8), "float32")
    sizes = dict(PhysicalSizeX=100, PhysicalSizeXUnit="nm", PhysicalSizeY=0.1,
                 PhysicalSizeYUnit="µm", PhysicalSizeZ=0.3)  # Z unit defaults to µm
    image, meta = read(ome(tmp_path / "a.ome.tif", data, "CZYX", **sizes))
    assert meta.axes == "CZYX" and meta.flavor == "ome"
    np.testing.assert_array_equal(image, data)
    assert meta.spacing == pytest.approx((0.3, 0.1, 0.1))


def test_ome_tczyx_uint16(tmp_path):
    data = stack((2, 3, 4, 6, 8))
    sizes = dict(PhysicalSizeX=0.1, PhysicalSizeY=0.1, PhysicalSizeZ=300, PhysicalSizeZUnit="nm")
    image, meta = read(ome(tmp_path / "a.ome.tif", data, "TCZYX", **sizes))
    assert meta.axes == "TCZYX" and image.dtype == np.float32
    np.testing.assert_array_equal(image, data)
    assert meta.spacing == pytest.approx((0.3, 0.1, 0.1))


def test_ome_single_channel_and_time_are_dropped(tmp_path):
    data = stack((1, 1, 4, 6, 8))
    sizes = dict(PhysicalSizeX=0.2, PhysicalSizeZ=0.5)  # no Y: square pixels
    image, meta = read(ome(tmp_path / "a.ome.tif", data, "TCZYX", **sizes))
    assert meta.axes == "ZYX" and image.shape == (4, 6, 8)
    np.testing.assert_array_equal(image, data[0, 0])
    assert meta.spacing == pytest.approx((0.5, 0.2, 0.2))


def test_ome_stack_without_z_size_warns_and_has_no_spacing(tmp_path):
    path = ome(tmp_path / "a.ome.tif", stack((4, 6, 8)), "ZYX", PhysicalSizeX=0.2)
    with pytest.warns(UserWarning, match="not the z step"):
        assert read(path)[1].spacing is None


def test_ome_2d_plane_gets_unit_dz(tmp_path):
    path = ome(tmp_path / "a.ome.tif", stack((6, 8)), "YX", PhysicalSizeX=0.2, PhysicalSizeY=0.2)
    image, meta = read(path)
    assert image.shape == (1, 6, 8) and meta.spacing == pytest.approx((1.0, 0.2, 0.2))


# plain TIFF ---------------------------------------------------------------------------


def test_plain_multipage_tiff_is_a_z_stack(tmp_path):
    data = stack((5, 6, 8))
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        for plane in data:
            tif.write(plane, metadata=None)
    image, meta = read(tmp_path / "pages.tif")
    assert meta.axes == "ZYX" and meta.flavor == "tiff" and meta.spacing is None
    np.testing.assert_array_equal(image, data)


def test_plain_tiff_resolution_in_centimetres(tmp_path):
    tifffile.imwrite(
        tmp_path / "cm.tif", stack((6, 8)), resolution=(1e5, 5e4), resolutionunit="CENTIMETER"
    )
    assert read(tmp_path / "cm.tif")[1].spacing == pytest.approx((1.0, 0.2, 0.1))


def test_big_endian_file(tmp_path):
    data = stack((3, 6, 8))
    tifffile.imwrite(
        tmp_path / "be.tif", data, byteorder=">", imagej=True, metadata={"axes": "ZYX"}
    )
    image, meta = read(tmp_path / "be.tif")
    np.testing.assert_array_equal(image, data)
    assert meta.source_dtype == "uint16"


# iter_volumes and ImageMeta -------------------------------------------------------------


def test_iter_volumes_walks_t_and_c_with_views(tmp_path):
    image = RNG.random((2, 3, 4, 5, 6)).astype(np.float32)
    seen = list(iter_volumes(image, ImageMeta(axes="TCZYX")))
    assert [index for index, _ in seen] == [{"T": t, "C": c} for t in range(2) for c in range(3)]
    for index, volume in seen:
        assert volume.shape == (4, 5, 6)
        np.testing.assert_array_equal(volume, image[tuple(index.values())])
    seen[0][1][...] = -1
    assert np.all(image[0, 0] == -1)


def test_iter_volumes_of_zyx_yields_it_once():
    image = np.zeros((4, 5, 6), np.float32)
    ((index, volume),) = iter_volumes(image, "ZYX")
    assert index == {} and volume.shape == image.shape


def test_iter_volumes_refuses_mismatched_axes():
    with pytest.raises(ValueError, match="array has 3 axes .* but axes 'CZYX' name 4"):
        list(iter_volumes(np.zeros((4, 5, 6)), "CZYX"))
    with pytest.raises(ValueError, match="hold no ZYX volume"):
        list(iter_volumes(np.zeros((4, 5)), "YX"))


def test_image_meta_checks_axes_and_spacing():
    with pytest.raises(ValueError, match="axes 'ZCYX' are not supported.*TCZYX"):
        ImageMeta(axes="ZCYX")
    with pytest.raises(ValueError, match=r"spacing must be three positive numbers \(dz, dy, dx\)"):
        ImageMeta(spacing=(0.1, 0.1))
    with pytest.raises(ValueError, match="spacing must be three positive"):
        ImageMeta(spacing=(0.3, -0.1, 0.1))
    meta = ImageMeta(spacing=[0.3, 0.1, 0.1], axes="czyx")
    assert meta.axes == "CZYX" and meta.spacing == (0.3, 0.1, 0.1)
    assert meta.scale == (1.0, 0.3, 0.1, 0.1)


def test_reading_emits_no_warning_for_a_clean_stack(tmp_path):
    path = imagej(tmp_path / "a.tif", stack((4, 6, 8)), "ZYX", spacing=(0.3, 0.1, 0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read(path)[0].shape == (4, 6, 8)
