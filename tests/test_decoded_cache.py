"""Tests of the decoded cache (data_readers.decoded_cache) behind ImageReader(cache=...)."""

import json
import logging
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data_readers.decoded_cache import DecodedCache
from data_readers.image_reader import ImageReader, UnreadableImageError

SIZE = 12


def _noise_file(path, seed, size=SIZE + 4):
    """Writes a noisy RGB PNG (a different image per seed) and returns its path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 256, (size, size + 2, 3), dtype=np.uint8))
    return str(path)


@pytest.fixture
def data(tmp_path):
    """Two classes of 7 and 6 noisy PNGs plus one corrupt file."""
    root = tmp_path / "data"
    for c, count in enumerate((7, 6)):
        for i in range(count):
            _noise_file(root / f"class{c}" / f"{i}.png", 10 * c + i)
    (root / "class1" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root


def _batches(reader, face, epoch):
    reader.set_epoch(epoch)
    if face == "iterator":
        return [(x.copy(), y) for x, y in reader.iter_epoch(epoch)]
    if face == "tf":
        return [(x.numpy(), y.numpy()) for x, y in reader.as_tf_dataset()]
    dataset = reader.as_py_dataset(workers=1)
    return [dataset[i] for i in range(len(dataset))]


def _assert_same(first, second):
    assert len(first) == len(second)
    for (x1, y1), (x2, y2) in zip(first, second):
        assert x1.dtype == x2.dtype == np.float32
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def _reader(data, cache=None, **options):
    options = {"batch_size": 4, "seed": 3, "image_size": SIZE, "num_threads": 2, **options}
    return ImageReader.from_folder(data, cache=cache, **options)


@pytest.mark.parametrize("face", ["iterator", "tf", "py"])
def test_batches_are_bit_identical_with_and_without_the_cache(data, tmp_path, face):
    plain = _reader(data)
    cached = _reader(data, cache=tmp_path / "cache")
    assert cached.cache.decoded == 14 and cached.cache.unreadable == 1
    for epoch in (0, 1):
        _assert_same(_batches(plain, face, epoch), _batches(cached, face, epoch))
    assert plain.skipped == cached.skipped == 1  # the corrupt file: skipped and counted, both ways
    assert cached.skipped_paths == plain.skipped_paths
    assert "corrupt" in cached.skip_reasons[cached.skipped_paths[0]]
    again = _reader(data, cache=tmp_path / "cache", num_shards=2, shard_index=1)
    assert again.cache.decoded == 0 and again.cache.reused == 14  # the corrupt one recorded too
    sharded = _reader(data, num_shards=2, shard_index=1)
    _assert_same(_batches(sharded, face, 0), _batches(again, face, 0))


def test_a_changed_or_added_file_is_decoded_again_and_nothing_stale_is_read(data, tmp_path):
    cache = tmp_path / "cache"
    _reader(data, cache=cache)
    changed = data / "class0" / "3.png"
    _noise_file(changed, 99)
    stat = os.stat(changed)
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # whatever the clock's grain
    _noise_file(data / "class0" / "new.png", 100)
    reader = _reader(data, cache=cache)
    assert (reader.cache.decoded, reader.cache.reused) == (2, 13)  # 15 listed now
    _assert_same(_batches(_reader(data), "iterator", 0), _batches(reader, "iterator", 0))


def test_a_deleted_file_disappears_from_the_cache(data, tmp_path):
    cache = tmp_path / "cache"
    first = _reader(data, cache=cache)
    os.remove(data / "class0" / "2.png")
    reader = _reader(data, cache=cache)
    assert reader.cache.decoded == 0 and len(reader.paths) == 13
    with open(os.path.join(first.cache.folder, "index.json")) as handle:
        entries = json.load(handle)["entries"]
    assert str(data / "class0" / "2.png") not in entries and len(entries) == 13
    _assert_same(_batches(_reader(data), "tf", 0), _batches(reader, "tf", 0))


def test_a_listed_file_missing_or_corrupt_is_skipped_and_strict_raises(data, tmp_path):
    paths = [_noise_file(tmp_path / f"{i}.png", i) for i in range(3)]
    listed = [paths[0], str(tmp_path / "gone.png"), paths[1], str(data / "class1" / "corrupt.png"), paths[2]]
    reader = ImageReader.from_paths(listed, batch_size=5, shuffle=False, seed=0, cache=tmp_path / "c")
    (images, _), = list(reader)
    assert len(images) == 5 and reader.skipped == 2
    assert "FileNotFoundError" in reader.skip_reasons[str(tmp_path / "gone.png")]
    strict = ImageReader.from_paths(listed[:2], shuffle=False, seed=0, strict=True, cache=tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="gone.png"):
        list(strict)
    strict = ImageReader.from_paths(listed[2:4], shuffle=False, seed=0, strict=True, cache=tmp_path / "c")
    with pytest.raises(UnreadableImageError, match="corrupt.png"):
        list(strict)


def test_a_cache_built_with_other_settings_is_not_reused(data, tmp_path):
    cache = tmp_path / "cache"
    first = _reader(data, cache=cache)
    for options in ({"image_size": SIZE - 4}, {"channels": 1}, {"image_size": None}):
        other = _reader(data, cache=cache, **options)
        assert other.cache.decoded == 14 and other.cache.folder != first.cache.folder
        _assert_same(_batches(_reader(data, **options), "iterator", 1), _batches(other, "iterator", 1))
    assert _reader(data, cache=cache).cache.decoded == 0


_KILLED_WRITER = """
import os, sys
import data_readers.decoded_cache as dc
from data_readers.image_reader import ImageReader
dc._write_atomic = lambda path, data: os._exit(9)  # killed after the shard, before the index
ImageReader.from_folder(sys.argv[1], image_size={size}, seed=0, cache=sys.argv[2])
"""


def test_a_half_written_cache_is_detected_and_rebuilt(data, tmp_path, caplog):
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    killed = subprocess.run([sys.executable, "-c", _KILLED_WRITER.format(size=SIZE), str(data), str(cache)],
                            env=env, capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    (folder,) = os.listdir(cache)
    assert any(n.startswith("shard-") for n in os.listdir(cache / folder))
    assert "index.json" not in os.listdir(cache / folder)
    with caplog.at_level(logging.WARNING, logger="data_readers.image_reader"):
        reader = _reader(data, cache=cache)
    assert reader.cache.decoded == 14
    assert any("incomplete" in r.getMessage() for r in caplog.records)
    _assert_same(_batches(_reader(data), "iterator", 0), _batches(reader, "iterator", 0))

    shard = next(n for n in os.listdir(cache / folder) if n.startswith("shard-"))
    with open(cache / folder / shard, "r+b") as handle:  # a shard cut short (disk full, copy failed)
        handle.truncate(100)
    assert _reader(data, cache=cache).cache.decoded == 14


def test_open_checks_its_arguments(data):
    reader = _reader(data)
    with pytest.raises(TypeError, match="cache=3"):
        DecodedCache.open(3, reader._decoder)


def test_the_cache_command_builds_what_the_reader_reuses(data, tmp_path, capsys):
    from ganaug.cli import main

    out = tmp_path / "cache"
    assert main(["cache", "--data", str(data), "--image-size", str(SIZE), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["files"], summary["decoded"], summary["unreadable"]) == (14, 14, 1)
    assert summary["unreadable_paths"] == [str(data / "class1" / "corrupt.png")]
    assert summary["nbytes"] == 13 * SIZE * SIZE * 3
    reader = _reader(data, cache=out)
    assert reader.cache.decoded == 0 and reader.cache.folder == summary["folder"]
