"""Tests of the streaming image reader (data_readers.image_reader) and its decoding rules."""

import logging
import os

import cv2
import numpy as np
import pytest

from data_readers.image_reader import (
    ImageReader,
    UnreadableImageError,
    read_image,
    read_images,
    to_uint8,
    write_image,
)

SIZE = 16


def _unit(p):
    """The reader's value for 8-bit pixel p."""
    return (np.float32(p) - np.float32(127.5)) / np.float32(127.5)


def _grey_file(path, value, size=SIZE):
    """Writes a constant grey 8-bit PNG whose value identifies the file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full((size, size), value, np.uint8))
    return str(path)


def _identify(images):
    """Returns the constant 8-bit value of each image of a batch (the id written by _grey_file)."""
    return [int(v) for v in to_uint8(images)[:, 0, 0, 0]]


@pytest.fixture
def class_folder(tmp_path):
    """Three classes (b has 2 files, a has 4, c has 3) of grey images with distinct values, plus junk."""
    root = tmp_path / "data"
    value = 0
    for name, count in (("b", 2), ("a", 4), ("c", 3)):
        for i in range(count):
            _grey_file(root / name / f"img_{i}.png", value)
            value += 10
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "a" / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "c" / "._img_0.png").write_bytes(b"AppleDouble")
    (root / "loose.png").write_bytes(b"ignored: not in a class folder")
    return root


def _all_ids(reader, epoch=0):
    ids, labels = [], []
    for images, batch_labels in reader.iter_epoch(epoch):
        ids += _identify(images)
        labels += batch_labels.tolist()
    return ids, labels


# ---------------------------------------------------------------------------------------- sources
def test_from_folder_sorted_classes_and_extension_filter(class_folder):
    reader = ImageReader.from_folder(class_folder, batch_size=4, seed=0, shuffle=False)
    assert reader.class_names == ["a", "b", "c"] and reader.num_classes == 3
    assert len(reader.paths) == 9 and all(p.endswith(".png") for p in reader.paths)
    assert reader.labels.dtype == np.int32 and reader.labels.tolist() == [0] * 4 + [1] * 2 + [2] * 3
    assert (reader.image_size, reader.channels, reader.batch_size, len(reader)) == (SIZE, 3, 4, 3)
    ids, labels = _all_ids(reader)
    assert ids == [20, 30, 40, 50, 0, 10, 60, 70, 80]  # sorted class a, b, c
    assert labels == reader.labels.tolist()
    assert reader.skipped == 0


def test_from_folder_unlabelled_is_recursive_with_label_minus_one(tmp_path):
    _grey_file(tmp_path / "x" / "deep" / "one.png", 1)
    _grey_file(tmp_path / "two.png", 2)
    reader = ImageReader.from_folder(tmp_path, labelled=False, batch_size=8, seed=0)
    assert reader.class_names == [] and reader.num_classes == 0
    (images, labels), = list(reader)
    assert sorted(_identify(images)) == [1, 2]
    assert labels.dtype == np.int32 and labels.tolist() == [-1, -1]


def test_from_csv_with_class_names_and_extra_columns(tmp_path):
    for i in range(3):
        _grey_file(tmp_path / "imgs" / f"{i}.png", i * 50)
    csv_path = tmp_path / "meta" / "manifest.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(
        "path,label,patient\n../imgs/0.png,tumour,p1\n../imgs/1.png,normal,p2\n../imgs/2.png,tumour,p3\n"
    )
    reader = ImageReader.from_csv(csv_path, batch_size=3, shuffle=False, seed=0)
    assert reader.class_names == ["normal", "tumour"]
    (images, labels), = list(reader)
    assert _identify(images) == [0, 50, 100] and labels.tolist() == [1, 0, 1]

    ordered = ImageReader.from_csv(csv_path, class_names=["tumour", "normal"], seed=0)
    assert ordered.labels.tolist() == [0, 1, 0]


def test_from_csv_integer_labels_and_unlabelled(tmp_path):
    for i in range(2):
        _grey_file(tmp_path / f"{i}.png", i)
    (tmp_path / "ints.csv").write_text("path,label\n0.png,2\n1.png,0\n")
    reader = ImageReader.from_csv(tmp_path / "ints.csv", seed=0)
    assert reader.labels.tolist() == [2, 0] and reader.class_names == ["0", "1", "2"]
    (tmp_path / "plain.csv").write_text("path\n0.png\n1.png\n")
    unlabelled = ImageReader.from_csv(tmp_path / "plain.csv", seed=0)
    assert unlabelled.num_classes == 0 and unlabelled.labels.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="Received: path_column='file'"):
        ImageReader.from_csv(tmp_path / "ints.csv", path_column="file")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        ImageReader.from_csv(tmp_path / "missing.csv")


def test_from_paths_names_indices_and_errors(tmp_path):
    paths = [_grey_file(tmp_path / f"{i}.png", i) for i in range(3)]
    reader = ImageReader.from_paths(paths, ["cat", "ant", "cat"], seed=0)
    assert reader.class_names == ["ant", "cat"] and reader.labels.tolist() == [1, 0, 1]
    indexed = ImageReader.from_paths(paths, [0, 1, 1], class_names=["x", "y"], seed=0)
    assert indexed.labels.tolist() == [0, 1, 1]
    assert ImageReader.from_paths(paths, seed=0).labels.tolist() == [-1, -1, -1]
    with pytest.raises(ValueError, match="Received: len\\(labels\\)=2"):
        ImageReader.from_paths(paths, [0, 1])
    with pytest.raises(ValueError, match="Received: label='dog'"):
        ImageReader.from_paths(paths, ["cat", "dog", "cat"], class_names=["cat"])


def test_empty_sources_raise_clear_errors(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "a" / "readme.txt").write_text("no images")
    with pytest.raises(ValueError, match="No image files"):
        ImageReader.from_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match="No image files"):
        ImageReader.from_folder(tmp_path / "empty", labelled=False)
    with pytest.raises(ValueError, match="No image files"):
        ImageReader.from_paths([])
    (tmp_path / "rows.csv").write_text("path,label\n")
    with pytest.raises(ValueError, match="no rows"):
        ImageReader.from_csv(tmp_path / "rows.csv")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ImageReader.from_folder(tmp_path / "nowhere")


def test_bad_arguments_name_the_argument(tmp_path):
    paths = [_grey_file(tmp_path / f"{i}.png", i) for i in range(4)]
    cases = [
        ({"channels": 4}, "Received: channels=4"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"image_size": (8, -1)}, "Received: image_size=\\(8, -1\\)"),
        ({"alpha": "keep"}, "Received: alpha='keep'"),
        ({"num_shards": 2, "shard_index": 2, "seed": 0}, "Received: shard_index=2"),
        ({"num_shards": 2}, "Received: seed=None"),
        ({"seed": -3}, "Received: seed=-3"),
        ({"batch_size": 5, "drop_remainder": True, "seed": 0}, "Received: batch_size=5"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            ImageReader.from_paths(paths, **kwargs)
    with pytest.raises(TypeError, match="Received: shuffle='yes'"):
        ImageReader.from_paths(paths, shuffle="yes")


# ---------------------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("extension", [".png", ".bmp", ".tif", ".jpg"])
def test_pure_red_is_rgb_in_every_format(tmp_path, extension):
    bgr = np.zeros((SIZE, SIZE, 3), np.uint8)
    bgr[..., 2] = 255  # OpenCV stores BGR: this file is pure red
    path = str(tmp_path / f"red{extension}")
    cv2.imwrite(path, bgr)
    image = read_image(path)
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.float32
    tolerance = 0.05 if extension == ".jpg" else 0.0
    np.testing.assert_allclose(image[..., 0], 1.0, atol=tolerance)
    np.testing.assert_allclose(image[..., 1:], -1.0, atol=tolerance)


def test_value_range_is_exact_and_to_uint8_inverts_it(tmp_path):
    ramp = np.tile(np.arange(256, dtype=np.uint8), (2, 1))
    cv2.imwrite(str(tmp_path / "ramp.png"), ramp)
    image = read_image(tmp_path / "ramp.png", channels=1)
    assert image.shape == (2, 256, 1)
    assert image[0, 0, 0] == -1.0 and image[0, 255, 0] == 1.0
    assert image.min() == -1.0 and image.max() == 1.0
    np.testing.assert_array_equal(image[0, :, 0], (np.arange(256, dtype=np.float32) - 127.5) / 127.5)
    np.testing.assert_array_equal(to_uint8(image)[..., 0], ramp)
    np.testing.assert_array_equal(to_uint8(np.array([-3.0, 3.0, 0.0])), [0, 255, 128])
    with pytest.raises(TypeError, match="Received: images.dtype"):
        to_uint8(np.array(["a"]))


def test_grey_replicated_and_colour_to_luminance(tmp_path):
    _grey_file(tmp_path / "grey.png", 100)
    rgb = read_image(tmp_path / "grey.png", channels=3)
    np.testing.assert_array_equal(rgb, np.full((SIZE, SIZE, 3), _unit(100)))
    bgr = np.zeros((SIZE, SIZE, 3), np.uint8)
    bgr[..., 2] = 255
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    grey = read_image(tmp_path / "red.png", channels=1)
    assert grey.shape == (SIZE, SIZE, 1)
    np.testing.assert_allclose(grey, _unit(round(0.299 * 255)))  # BT.601 luminance of pure red


def test_rgba_composited_on_white_or_alpha_dropped(tmp_path):
    bgra = np.zeros((1, 3, 4), np.uint8)
    bgra[..., 2] = 255  # red
    bgra[0, :, 3] = [0, 128, 255]  # transparent, half, opaque
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    composite = to_uint8(read_image(tmp_path / "rgba.png"))
    half = (0 * 128 + 255 * (255 - 128) + 127) // 255  # green/blue of red over white at a=128
    np.testing.assert_array_equal(composite[0], [[255, 255, 255], [255, half, half], [255, 0, 0]])
    dropped = to_uint8(read_image(tmp_path / "rgba.png", alpha="drop"))
    np.testing.assert_array_equal(dropped[0], [[255, 0, 0]] * 3)


def test_sixteen_bit_scaled_to_unit_range(tmp_path):
    values = np.array([[0, 16384, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), values)
    image = read_image(tmp_path / "deep.png", channels=1)
    expected = (values.astype(np.float32) - np.float32(32767.5)) / np.float32(32767.5)
    np.testing.assert_allclose(image[..., 0], expected, rtol=0, atol=1e-7)
    assert image[0, 0, 0] == -1.0 and image[0, 2, 0] == 1.0
    reader = ImageReader.from_paths([str(tmp_path / "deep.png")], channels=3, seed=0)
    (batch, _), = list(reader)
    assert batch.shape == (1, 1, 3, 3)
    np.testing.assert_allclose(batch[0, 0, :, 1], expected[0], atol=1e-7)


def test_resize_shrinks_and_grows(tmp_path):
    _grey_file(tmp_path / "a.png", 200, size=32)
    assert read_image(tmp_path / "a.png", image_size=8).shape == (8, 8, 3)
    grown = read_image(tmp_path / "a.png", image_size=(40, 48), channels=1)
    assert grown.shape == (40, 48, 1)
    np.testing.assert_allclose(grown, _unit(200))  # a flat image stays flat under either rule


def test_write_image_round_trip_keeps_rgb(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    path = write_image(tmp_path / "sub" / "out.png", rgb)
    np.testing.assert_array_equal(cv2.imread(path)[..., ::-1], rgb)
    np.testing.assert_array_equal(to_uint8(read_image(path)), rgb)
    write_image(tmp_path / "float.png", read_image(path))
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "float.png")), rgb)
    with pytest.raises(ValueError, match="Received: path="):
        write_image(tmp_path / "out.gif", rgb)


def test_read_images_stacks_and_reports_bad_files(tmp_path):
    paths = [_grey_file(tmp_path / f"{i}.png", i * 20) for i in range(3)]
    images = read_images(paths, channels=1)
    assert images.shape == (3, SIZE, SIZE, 1) and images.dtype == np.float32
    assert _identify(images) == [0, 20, 40]
    _grey_file(tmp_path / "big.png", 0, size=24)
    with pytest.raises(ValueError, match="big.png"):
        read_images(paths + [str(tmp_path / "big.png")])
    assert read_images(paths + [str(tmp_path / "big.png")], image_size=8).shape == (4, 8, 8, 3)
    with pytest.raises(FileNotFoundError, match="gone.png"):
        read_images([str(tmp_path / "gone.png")])


# ---------------------------------------------------------------------------------------- order
def test_epochs_reshuffle_reproducibly(class_folder):
    reader = ImageReader.from_folder(class_folder, batch_size=4, seed=7)
    first = [_identify(x) for x, _ in reader]
    second = [_identify(x) for x, _ in reader]
    assert reader.epoch == 2
    assert sorted(sum(first, [])) == sorted(sum(second, [])) and first != second
    again = ImageReader.from_folder(class_folder, batch_size=4, seed=7)
    assert [_identify(x) for x, _ in again] == first
    again.set_epoch(1)
    assert [_identify(x) for x, _ in again] == second
    other_seed = ImageReader.from_folder(class_folder, batch_size=4, seed=8)
    assert [_identify(x) for x, _ in other_seed] != first
    with pytest.raises(ValueError, match="Received: epoch=-1"):
        reader.set_epoch(-1)


def test_shards_are_disjoint_and_complete(class_folder):
    shards = [
        ImageReader.from_folder(class_folder, batch_size=2, seed=3, num_shards=3, shard_index=i)
        for i in range(3)
    ]
    for epoch in (0, 1):
        seen = [_all_ids(shard, epoch)[0] for shard in shards]
        flat = sum(seen, [])
        assert len(flat) == len(set(flat)) == 9
        assert sorted(flat) == list(range(0, 90, 10))
        assert [len(s) for s in seen] == [3, 3, 3]


def test_balanced_sampling_equalises_classes(tmp_path):
    for i in range(30):
        _grey_file(tmp_path / "common" / f"{i}.png", i)
    for i in range(3):
        _grey_file(tmp_path / "rare" / f"{i}.png", 100 + i)
    reader = ImageReader.from_folder(tmp_path, batch_size=11, seed=0, balanced=True)
    _, labels = _all_ids(reader)
    assert len(labels) == 33
    assert abs(labels.count(0) - labels.count(1)) <= 1
    plain = ImageReader.from_folder(tmp_path, batch_size=11, seed=0)
    assert _all_ids(plain)[1].count(1) == 3


# ---------------------------------------------------------------------------------------- bad files
def _bad_files_folder(tmp_path):
    """6 readable files and 3 unreadable ones (corrupt, empty, truncated) in one class folder."""
    for i in range(6):
        _grey_file(tmp_path / "a" / f"{i}.png", i)
    (tmp_path / "a" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "a" / "empty.jpg").write_bytes(b"")
    good = (tmp_path / "a" / "0.png").read_bytes()
    (tmp_path / "a" / "truncated.png").write_bytes(good[: len(good) // 2])
    return tmp_path


def test_unreadable_files_are_skipped_counted_and_their_slots_refilled(tmp_path, caplog):
    _bad_files_folder(tmp_path)
    reader = ImageReader.from_folder(tmp_path, batch_size=4, seed=1)
    assert len(reader) == 3  # 9 listed files
    with caplog.at_level(logging.WARNING, logger="data_readers.image_reader"):
        sizes = [len(x) for x, _ in reader]
        ids = []
        for x, _ in reader:
            ids += _identify(x)
    assert sizes == [4, 4, 1]  # slots of unreadable files refilled: len(reader) full batches
    assert set(ids) == set(range(6)) and len(ids) == 9  # 3 readable files read twice
    assert reader.skipped == 3
    assert sorted(os.path.basename(p) for p in reader.skipped_paths) == [
        "corrupt.png", "empty.jpg", "truncated.png"
    ]
    warnings = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(warnings) == 3  # one per file, not one per epoch

    dropped = ImageReader.from_folder(tmp_path, batch_size=4, seed=1, drop_remainder=True)
    assert [len(x) for x, _ in dropped] == [4, 4]


@pytest.mark.parametrize(
    "options",
    [dict(batch_size=4, seed=1), dict(batch_size=2, seed=2, drop_remainder=True),
     dict(batch_size=3, seed=3, num_shards=2, shard_index=1), dict(batch_size=4, shuffle=False)],
)
def test_len_is_the_batches_of_every_face_with_bad_files(tmp_path, options):
    _bad_files_folder(tmp_path)
    reader = ImageReader.from_folder(tmp_path, num_threads=2, **options)
    iterated = [(_identify(x), y.tolist()) for x, y in reader.iter_epoch(0)]
    reader.set_epoch(0)
    from_tf = [(_identify(x.numpy()), y.numpy().tolist()) for x, y in reader.as_tf_dataset()]
    reader.set_epoch(0)
    py_dataset = reader.as_py_dataset(workers=1)
    from_py = [(_identify(x), y.tolist()) for x, y in (py_dataset[i] for i in range(len(py_dataset)))]
    assert len(reader) == len(iterated) == len(from_tf) == len(from_py) > 0
    assert iterated == from_tf == from_py
    read = {reader.paths[i] for i in reader.epoch_indices(0)}
    unreadable = {p for p in read if not os.path.basename(p)[0].isdigit()}
    assert set(reader.skipped_paths) == unreadable and unreadable  # skipped and counted, once


def test_strict_raises_with_the_path(tmp_path):
    _grey_file(tmp_path / "ok.png", 1)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    paths = [str(tmp_path / "ok.png"), str(tmp_path / "broken.png")]
    reader = ImageReader.from_paths(paths, strict=True, shuffle=False, seed=0)
    with pytest.raises(UnreadableImageError, match="broken.png"):
        list(reader)
    missing = ImageReader.from_paths([paths[0], str(tmp_path / "gone.png")], strict=True, seed=0)
    with pytest.raises(FileNotFoundError, match="gone.png"):
        list(missing)


def test_inferred_size_requires_matching_images(tmp_path):
    _grey_file(tmp_path / "a.png", 1)
    _grey_file(tmp_path / "b.png", 2, size=SIZE + 4)
    paths = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    reader = ImageReader.from_paths(paths, shuffle=False, seed=0)
    assert reader.image_size == SIZE
    with pytest.raises(ValueError, match="b.png"):
        list(reader)
    resized = ImageReader.from_paths(paths, image_size=(8, 12), seed=0)
    assert resized.image_size == (8, 12) and next(iter(resized))[0].shape == (2, 8, 12, 3)


# ---------------------------------------------------------------------------------------- faces
def test_py_dataset_face(class_folder):
    import keras

    reader = ImageReader.from_folder(class_folder, batch_size=4, seed=2, channels=1)
    dataset = reader.as_py_dataset(workers=1)
    assert isinstance(dataset, keras.utils.PyDataset) and len(dataset) == 3
    batches = [dataset[i] for i in range(len(dataset))]
    assert [b[0].shape for b in batches] == [(4, SIZE, SIZE, 1)] * 2 + [(1, SIZE, SIZE, 1)]
    assert all(b[0].dtype == np.float32 and b[1].dtype == np.int32 for b in batches)
    first = sum((_identify(b[0]) for b in batches), [])
    assert first == _all_ids(reader, 0)[0]  # same epoch order as the iterator face
    dataset.on_epoch_end()
    second = sum((_identify(dataset[i][0]) for i in range(len(dataset))), [])
    assert sorted(second) == sorted(first) and second != first


def test_py_dataset_fills_unreadable_slots(tmp_path):
    paths = [_grey_file(tmp_path / f"{i}.png", i) for i in range(4)]
    (tmp_path / "bad.png").write_bytes(b"bad")
    listed = paths[:1] + [str(tmp_path / "bad.png")] + paths[1:]
    reader = ImageReader.from_paths(listed, batch_size=2, shuffle=False, seed=0)
    dataset = reader.as_py_dataset(workers=1)
    assert [_identify(dataset[i][0]) for i in range(len(dataset))] == [[0, 1], [1, 2], [3]]
    assert reader.skipped == 1


def test_tf_dataset_face_shapes_and_dtypes(class_folder):
    import tensorflow as tf

    reader = ImageReader.from_folder(class_folder, batch_size=4, seed=0, image_size=8)
    dataset = reader.as_tf_dataset()
    images_spec, labels_spec = dataset.element_spec
    assert images_spec.shape.as_list() == [None, 8, 8, 3] and images_spec.dtype == tf.float32
    assert labels_spec.shape.as_list() == [None] and labels_spec.dtype == tf.int32
    batches = list(dataset)
    assert [int(x.shape[0]) for x, _ in batches] == [4, 4, 1]
    assert all(float(tf.reduce_min(x)) >= -1.0 and float(tf.reduce_max(x)) <= 1.0 for x, _ in batches)
    assert reader.epoch == 1  # each pass over the dataset reads the next epoch
    static = ImageReader.from_folder(class_folder, batch_size=4, seed=0, drop_remainder=True)
    assert static.as_tf_dataset().element_spec[0].shape.as_list() == [4, SIZE, SIZE, 3]
    assert len(list(static.as_tf_dataset())) == 2


def _ramp_file(path, dtype):
    """Writes an RGB PNG holding every value of ``dtype``'s range that fits 16x16x3 (a ramp)."""
    top = np.iinfo(dtype).max
    values = np.linspace(0, top, SIZE * SIZE * 3).round().astype(dtype).reshape(SIZE, SIZE, 3)
    values.flat[:2] = (0, top)
    if dtype == np.uint8:
        values.flat[: 256] = np.arange(256)  # every 8-bit value, so the whole table is compared
    cv2.imwrite(str(path), values)
    return str(path)


@pytest.mark.parametrize("depths", [(np.uint8,), (np.uint16,), (np.uint16, np.uint8)])
def test_tf_dataset_values_are_bit_identical_to_the_iterator(tmp_path, depths):
    paths = [_ramp_file(tmp_path / f"{i}.png", dtype) for i, dtype in enumerate(depths)]
    reader = ImageReader.from_paths(paths, batch_size=len(paths), shuffle=False, seed=0)
    (expected, _), = list(reader.iter_epoch(0))
    (images, labels), = [(x.numpy(), y.numpy()) for x, y in reader.as_tf_dataset()]
    assert images.dtype == np.float32 and labels.tolist() == [-1] * len(paths)
    np.testing.assert_array_equal(images, expected)  # 8-bit carried as uint16 too (x 257)
    assert images.min() == -1.0 and images.max() == 1.0


def test_a_sixteen_bit_file_among_eight_bit_ones_is_converted_and_counted_in_every_face(tmp_path):
    paths = [_ramp_file(tmp_path / "a.png", np.uint8), _ramp_file(tmp_path / "b.png", np.uint16)]
    reader = ImageReader.from_paths(paths, batch_size=2, shuffle=False, seed=0)
    (expected, _), = list(reader)  # the numpy face converts it to the data set's 8 bits
    (images, _), = [(x.numpy(), y.numpy()) for x, y in reader.as_tf_dataset()]
    np.testing.assert_array_equal(images, expected)
    sixteen = cv2.imread(paths[1], cv2.IMREAD_UNCHANGED)[..., ::-1]
    np.testing.assert_array_equal(to_uint8(expected[1]), np.rint(sixteen / 257).astype(np.uint8))
    assert reader.converted == 1 and reader.converted_paths == [paths[1]] and reader.skipped == 0
    assert "a.png" in reader.convert_reasons[paths[1]]


def test_tf_dataset_reads_successive_epochs_in_the_iterators_order(class_folder):
    reader = ImageReader.from_folder(class_folder, batch_size=4, seed=3, num_threads=2)
    dataset = reader.as_tf_dataset()
    for epoch in range(3):
        ids, labels = [], []
        for images, batch_labels in dataset:
            ids += _identify(images.numpy())
            labels += batch_labels.numpy().tolist()
        assert (ids, labels) == _all_ids(reader, epoch)
    assert reader.epoch == 3


def test_tf_batches_kept_alive_are_not_overwritten_by_recycled_arrays(class_folder):
    reader = ImageReader.from_folder(class_folder, batch_size=1, seed=4, num_threads=2)
    kept = list(reader.as_tf_dataset(prefetch=1))  # 9 tensors alive, more than the array pool
    assert [_identify(x.numpy()) for x, _ in kept] == [[i] for i in _all_ids(reader, 0)[0]]


def test_tf_dataset_fills_unreadable_slots(tmp_path):
    paths = [_grey_file(tmp_path / f"{i}.png", i) for i in range(4)]
    (tmp_path / "bad.png").write_bytes(b"bad")
    listed = paths[:1] + [str(tmp_path / "bad.png")] + paths[1:]
    reader = ImageReader.from_paths(listed, batch_size=2, shuffle=False, seed=0)
    batches = [_identify(x.numpy()) for x, _ in reader.as_tf_dataset()]
    assert batches == [[0, 1], [1, 2], [3]]  # len(reader) batches, as the PyDataset face
    assert reader.skipped == 1


def test_tf_dataset_skip_batches_starts_only_the_first_epoch_later(class_folder):
    reader = ImageReader.from_folder(class_folder, batch_size=2, seed=5)  # 9 files: 5 batches
    expected = [_all_ids(reader, epoch)[0] for epoch in (0, 1)]
    dataset = reader.as_tf_dataset(skip_batches=3)
    first = sum((_identify(x.numpy()) for x, _ in dataset), [])
    second = sum((_identify(x.numpy()) for x, _ in dataset), [])
    assert first == expected[0][6:] and second == expected[1]
    for bad in (5, -1, 1.0):
        with pytest.raises(ValueError, match="skip_batches"):
            reader.as_tf_dataset(skip_batches=bad)


def test_tf_dataset_under_mirrored_strategy(class_folder):
    import tensorflow as tf

    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs the 2 logical CPUs set up by conftest.py")
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    reader = ImageReader.from_folder(class_folder, batch_size=4, seed=0, drop_remainder=True)
    distributed = strategy.experimental_distribute_dataset(reader.as_tf_dataset())

    @tf.function
    def count(batch):
        per_replica = strategy.run(
            lambda images, labels: tf.stack(
                [tf.shape(images)[0], tf.reduce_sum(tf.cast(images <= 1.0, tf.int32))]
            ),
            args=batch,
        )
        return strategy.experimental_local_results(per_replica)

    results = [[r.numpy() for r in count(batch)] for batch in distributed]
    assert len(results) == 2
    for per_replica in results:
        assert [int(r[0]) for r in per_replica] == [2, 2]  # global batch 4 split over 2 replicas
        assert all(int(r[1]) == 2 * SIZE * SIZE * 3 for r in per_replica)


def test_batches_kept_by_the_consumer_are_never_overwritten(tmp_path):
    paths = [_grey_file(tmp_path / f"{i:02d}.png", i) for i in range(24)]
    reader = ImageReader.from_paths(paths, batch_size=2, seed=4, num_threads=2, queue_size=2)
    streamed = [_identify(images) for images, _ in reader.iter_epoch(0)]  # arrays recycled
    kept = list(reader.iter_epoch(0))  # every array still referenced
    assert [_identify(images) for images, _ in kept] == streamed
    assert sorted(sum(streamed, [])) == list(range(24))


def test_importing_the_reader_does_not_import_tensorflow_or_ganaug():
    import subprocess
    import sys

    code = (
        "import sys, data_readers.image_reader; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'ganaug') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"
