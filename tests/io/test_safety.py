"""OME-TIFF written when the name says so, partial voxel sizes kept, only regular files replaced."""

import os
import stat
import warnings

import numpy as np
import pytest
import tifffile

from deconvkit.io import read, write, write_temporary
from deconvkit.io._atomic import create_temporary, deferred_signals, name_max

RNG = np.random.default_rng(11)


def volume(shape=(4, 6, 8)):
    return RNG.random(shape).astype(np.float32)


# OME-TIFF ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.ome.tif", "OUT.OME.TIFF"])
def test_an_ome_name_is_written_as_ome_tiff_with_its_voxel_size(tmp_path, name):
    data = volume()
    path = write(tmp_path / name, data, spacing=(0.3, 0.2, 0.1))
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome and not tif.is_imagej
        xml = tif.ome_metadata
    assert 'PhysicalSizeX="0.1"' in xml and 'PhysicalSizeZ="0.3"' in xml
    assert 'PhysicalSizeXUnit="µm"' in xml
    image, meta = read(path)
    np.testing.assert_array_equal(image, data)
    assert meta.flavor == "ome" and meta.axes == "ZYX"
    assert meta.spacing == pytest.approx((0.3, 0.2, 0.1))


def test_ome_round_trip_of_channels_and_time(tmp_path):
    data = volume((2, 3, 4, 6, 8))
    image, meta = read(write(tmp_path / "t.ome.tif", data, spacing=(0.5, 0.1, 0.1),
                             axes="TCZYX"))
    assert meta.axes == "TCZYX" and meta.flavor == "ome"
    np.testing.assert_array_equal(image, data)
    assert meta.spacing == pytest.approx((0.5, 0.1, 0.1))


def test_ome_uint16_keeps_its_scale(tmp_path):
    data = volume() * 40 - 3  # negative values too
    path = write(tmp_path / "u.ome.tif", data, spacing=(0.3, 0.1, 0.1), dtype="uint16")
    image, meta = read(path)
    assert meta.flavor == "ome" and meta.source_dtype == "uint16"
    assert meta.calibration is not None
    step = meta.calibration[1]
    assert np.max(np.abs(image - data)) <= step / 2 + 1e-5


def test_a_plain_name_stays_an_imagej_hyperstack(tmp_path):
    path = write(tmp_path / "out.tif", volume(), spacing=(0.3, 0.1, 0.1))
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej and not tif.is_ome


# partial voxel sizes -------------------------------------------------------------------


def test_an_invalid_imagej_z_step_keeps_the_pixel_size(tmp_path):
    path = tmp_path / "bad_dz.tif"
    tifffile.imwrite(path, volume(), imagej=True, resolution=(10.0, 10.0),
                     metadata={"axes": "ZYX", "unit": "um", "spacing": -1.0})
    with pytest.warns(UserWarning, match=r"not the z step \(spacing = -1.0 in the ImageJ"):
        _, meta = read(path)
    assert meta.spacing is None
    assert meta.file_spacing == (None, pytest.approx(0.1), pytest.approx(0.1))
    assert meta.spacing_note.startswith("the z step: spacing = -1.0")


def test_a_missing_ome_z_size_is_named(tmp_path):
    path = tmp_path / "noz.ome.tif"
    tifffile.imwrite(path, volume(), ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    with pytest.warns(UserWarning, match="no PhysicalSizeZ"):
        _, meta = read(path)
    assert meta.spacing is None and meta.file_spacing == (None, 0.2, 0.2)
    assert "PhysicalSizeZ" in meta.spacing_note


def test_an_uncalibrated_file_has_no_note(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, volume(), photometric="minisblack")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, meta = read(path)
    assert meta.spacing is None and meta.file_spacing is None and meta.spacing_note is None


# only regular files are replaced ----------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_overwrite_never_replaces_a_named_pipe(tmp_path):
    pipe = tmp_path / "out.tif"
    os.mkfifo(pipe)
    with pytest.raises(FileExistsError, match="named pipe.*not a regular file"):
        write(pipe, volume(), overwrite=True)
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                    reason="only root can create a device node to test with")
def test_overwrite_never_replaces_a_device_node(tmp_path):
    node = tmp_path / "null.tif"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    with pytest.raises(FileExistsError, match="character device"):
        write(node, volume(), overwrite=True)
    assert stat.S_ISCHR(os.lstat(node).st_mode)


@pytest.mark.parametrize("dangling", [False, True])
def test_overwrite_never_replaces_a_symbolic_link(tmp_path, dangling):
    target = tmp_path / "elsewhere.tif"
    if not dangling:
        target.write_bytes(b"not mine")
    link = tmp_path / "out.tif"
    link.symlink_to(target)
    with pytest.raises(FileExistsError, match="symbolic link"):
        write(link, volume(), overwrite=True)
    assert link.is_symlink() and (dangling or target.read_bytes() == b"not mine")


def test_a_hard_link_to_the_input_is_the_input(tmp_path):
    source = write(tmp_path / "in.tif", volume(), spacing=(0.3, 0.1, 0.1))
    image, meta = read(source)
    os.link(source, tmp_path / "alias.tif")
    with pytest.raises(ValueError, match="refusing to write over the input image"):
        write(tmp_path / "alias.tif", image + 1, meta, overwrite=True)


# temporaries -------------------------------------------------------------------------


def test_a_name_as_long_as_allowed_still_gets_a_temporary(tmp_path):
    longest = "x" * (name_max(tmp_path) - len(".tif")) + ".tif"
    path = write(tmp_path / longest, volume())
    assert path.exists() and sorted(p.name for p in tmp_path.iterdir()) == [longest]
    temporary = create_temporary(tmp_path / longest)
    assert temporary.name.startswith(".x") and len(os.fsencode(temporary.name)) < 255
    temporary.unlink()


def test_write_temporary_is_complete_and_leaves_the_target_alone(tmp_path):
    target = tmp_path / "out.tif"
    target.write_bytes(b"earlier")
    temporary = write_temporary(target, volume(), overwrite=True)
    assert target.read_bytes() == b"earlier"
    assert temporary.parent == tmp_path and temporary.name.startswith(".out.tif.")
    assert read(temporary)[0].shape == (4, 6, 8)
    temporary.unlink()


def test_a_signal_inside_deferred_signals_arrives_after_the_block():
    import signal
    import threading

    done = []
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a runner may ignore it
    try:
        with pytest.raises(KeyboardInterrupt), deferred_signals():
            signal.raise_signal(signal.SIGINT)
            done.append("the block ran on")
            # sent from another thread, as the kernel may deliver it to a pool thread
            sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
            sender.start()
            sender.join()
            done.append("to its end")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done == ["the block ran on", "to its end"]
