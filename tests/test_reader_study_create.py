"""Creating reader studies: balanced, seeded, every image re-encoded identically, from folders or a run."""

import collections
import os

import cv2
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from data_readers.decode import decode_pixels
from ganaug.cli import main
from ganaug.reader_study import create, encoding, links, storage


def _make_folders(root, *, real_counts=(10, 4), synthetic_counts=(6, 6)):
    """Real: 24 px JPEGs in class folders; synthetic: 16 px PNGs with a tEXt chunk, written by PIL."""
    rng = np.random.default_rng(0)
    for kind, counts in (("real", real_counts), ("synthetic", synthetic_counts)):
        for name, count in zip(("benign", "tumour"), counts):
            folder = root / kind / name
            folder.mkdir(parents=True)
            for i in range(count):
                if kind == "real":
                    pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
                    cv2.imwrite(str(folder / f"{i:02d}.jpg"), pixels)
                else:
                    pixels = np.repeat(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], 16, 0)
                    pixels = np.repeat(pixels, 3, 2) // (i + 1)
                    info = PngImagePlugin.PngInfo()
                    info.add_text("Software", "my-gan v1")
                    Image.fromarray(pixels).save(folder / f"{i:02d}.png", pnginfo=info, compress_level=9)
    return root / "real", root / "synthetic"


def _study(path):
    connection = storage.connect(path)
    try:
        meta = storage.read_meta(connection)
        images = {r["id"]: r for r in storage.image_rows(connection)}
        pngs = {r["id"]: bytes(r["png"]) for r in connection.execute("SELECT id, png FROM images")}
        orders = {}
        for row in connection.execute(
            "SELECT r.name, a.image_id FROM assignments a JOIN readers r ON r.id = a.reader_id ORDER BY r.id, a.position"
        ):
            orders.setdefault(row["name"], []).append(row["image_id"])
    finally:
        connection.close()
    return meta, images, pngs, orders


def test_study_is_balanced_seeded_and_reencoded_identically(tmp_path):
    real_dir, synthetic_dir = _make_folders(tmp_path)
    info = create.create_study(
        tmp_path / "a.db", real_dir=real_dir, synthetic_dir=synthetic_dir, readers=["A", "B", "C"],
        per_reader=8, tasks="realness,quality,label", seed=3,
    )
    assert (info.num_real, info.num_synthetic, info.image_size) == (4, 4, (16, 16))
    assert info.class_names == ["benign", "tumour"] and info.tasks == ("realness", "quality", "label")
    meta, images, pngs, orders = _study(info.path)
    # Balanced: half real, half synthetic, and each half spread evenly over the two classes.
    counts = collections.Counter((r["truth"], r["label"]) for r in images.values())
    assert counts == {("real", 0): 2, ("real", 1): 2, ("synthetic", 0): 2, ("synthetic", 1): 2}
    # Every reader reads every image, each in their own order.
    assert all(sorted(order) == sorted(images) for order in orders.values())
    assert len({tuple(order) for order in orders.values()}) == 3
    # Secrets and ids are random and well-formed; the admin secret is not a reader's.
    assert all(links.is_token(t) for _, t in info.readers) and links.is_token(info.admin_token)
    assert all(links.is_token(i) for i in images)
    # Identical re-encoding: only IHDR/IDAT/IEND, the same byte length for every image, no source text.
    source_chunks = encoding.png_chunk_types(open(synthetic_dir / "benign" / "00.png", "rb").read())
    assert "tEXt" in source_chunks  # the synthetic sources did carry metadata
    assert {len(png) for png in pngs.values()} == {len(next(iter(pngs.values())))}
    for image_id, png in pngs.items():
        assert encoding.png_chunk_types(png) == ["IHDR", "IDAT", "IEND"]
        assert b"my-gan" not in png and b"benign" not in png and b"synthetic" not in png
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
        source = images[image_id]["source"]
        assert os.path.isfile(source)
        expected = encoding.prepare_pixels(decode_pixels(source), (16, 16))
        np.testing.assert_array_equal(decoded, expected)
        if images[image_id]["truth"] == "synthetic":  # same size: the pixels pass through untouched
            np.testing.assert_array_equal(decoded, decode_pixels(source))

    # Same seed: same images in the same per-reader order; another seed: another sample.
    again = create.create_study(
        tmp_path / "b.db", real_dir=real_dir, synthetic_dir=synthetic_dir, readers=["A", "B", "C"],
        per_reader=8, tasks="realness,quality,label", seed=3,
    )
    _, images_b, _, orders_b = _study(again.path)
    for name in orders:
        assert [images[i]["source"] for i in orders[name]] == [images_b[i]["source"] for i in orders_b[name]]
    assert set(images).isdisjoint(images_b) and again.admin_token != info.admin_token
    other = create.create_study(
        tmp_path / "c.db", real_dir=real_dir, synthetic_dir=synthetic_dir, readers=["A", "B", "C"],
        per_reader=8, seed=4,
    )
    _, images_c, _, orders_c = _study(other.path)
    assert [images[i]["source"] for i in orders["A"]] != [images_c[i]["source"] for i in orders_c["A"]]


def test_png_encoder_round_trips_and_sizes_do_not_depend_on_content(rng):
    flat = np.full((20, 30, 3), 128, np.uint8)
    noisy = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    a, b = encoding.encode_png(flat), encoding.encode_png(noisy)
    assert len(a) == len(b)
    for pixels, png in ((flat, a), (noisy, b)):
        decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), pixels)
    compressed = encoding.encode_png(flat, compression=9)
    assert len(compressed) < len(a) and encoding.png_chunk_types(compressed) == ["IHDR", "IDAT", "IEND"]
    grey16 = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 257)
    assert encoding.prepare_pixels(grey16, 8).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="png_compression"):
        encoding.encode_png(flat, compression=10)
    with pytest.raises(ValueError, match="Bad CRC"):
        encoding.png_chunk_types(a[:-1] + bytes([a[-1] ^ 1]))


def test_unreadable_files_are_skipped_or_named(tmp_path):
    real_dir, synthetic_dir = _make_folders(tmp_path, real_counts=(2, 1), synthetic_counts=(2, 2))
    (real_dir / "benign" / "broken.png").write_bytes(b"not a png")
    info = create.create_study(tmp_path / "ok.db", real_dir=real_dir, synthetic_dir=synthetic_dir,
                               readers=["A"], per_reader=6)
    _, images, _, _ = _study(info.path)
    assert not any(r["source"].endswith("broken.png") for r in images.values())
    with pytest.raises(ValueError, match="Only 3 readable real images"):
        create.create_study(tmp_path / "bad.db", real_dir=real_dir, synthetic_dir=synthetic_dir,
                            readers=["A"], per_reader=8)


def test_bad_arguments_are_named(tmp_path):
    real_dir, synthetic_dir = _make_folders(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        cv2.imwrite(str(flat / f"{i}.png"), np.zeros((16, 16, 3), np.uint8))
    common = dict(real_dir=real_dir, synthetic_dir=synthetic_dir, readers=["A", "B"])
    with pytest.raises(ValueError, match="per_reader=7"):
        create.create_study(tmp_path / "x.db", per_reader=7, **common)
    with pytest.raises(ValueError, match="needs 15 real images; only 14"):
        create.create_study(tmp_path / "x.db", per_reader=30, **common)
    with pytest.raises(ValueError, match="tasks"):
        create.create_study(tmp_path / "x.db", tasks="realness,gleason", **{**common, "readers": ["A"]})
    with pytest.raises(ValueError, match="unique"):
        create.create_study(tmp_path / "x.db", **{**common, "readers": ["A", "A"]})
    with pytest.raises(ValueError, match="`label` task needs a class list"):
        create.create_study(tmp_path / "x.db", real_dir=flat, synthetic_dir=flat, readers=["A"], per_reader=4,
                            tasks="label")
    with pytest.raises(FileNotFoundError, match="missing"):
        create.create_study(tmp_path / "x.db", real_dir=tmp_path / "missing", synthetic_dir=flat, readers=["A"])
    create.create_study(tmp_path / "x.db", per_reader=4, **common)
    with pytest.raises(FileExistsError, match="x.db"):
        create.create_study(tmp_path / "x.db", per_reader=4, **common)
    create.create_study(tmp_path / "x.db", per_reader=4, overwrite=True, **common)


def test_cli_create_from_a_run_generates_the_synthetic_half(tmp_path, capsys):
    from ganaug.models import build_cdcgan_generator
    from ganaug.runs import create_run_dir, model_path, write_config

    real_dir, _ = _make_folders(tmp_path)
    run_dir = create_run_dir(tmp_path / "run")
    build_cdcgan_generator(num_classes=2, image_size=16, latent_dim=8, generator_filters=8, seed=0).save(
        model_path(run_dir, "generator")
    )
    write_config(run_dir, {"family": "cdcgan", "image_size": 16, "channels": 3, "latent_dim": 8,
                           "latent_distribution": "normal", "class_names": ["benign", "tumour"], "num_classes": 2})
    out = tmp_path / "run.db"
    code = main(["reader-study", "create", "--real", str(real_dir), "--run", run_dir, "--n", "6",
                 "--readers", "A", "B", "--per-reader", "4", "--task", "realness,label", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 real + 2 synthetic images (16x16 px) for 2 readers" in printed
    assert printed.count("http://127.0.0.1:8000/r/") == 2 and "http://127.0.0.1:8000/admin/" in printed
    meta, images, pngs, _ = _study(out)
    synthetic = [r for r in images.values() if r["truth"] == "synthetic"]
    assert sorted(r["label"] for r in synthetic) == [0, 1]  # generated classes 0, 1, 0, ... then stratified
    assert all(r["source"].startswith("run ") for r in synthetic)
    assert meta["class_names"] == ["benign", "tumour"]
    assert {len(p) for p in pngs.values()} == {len(next(iter(pngs.values())))}
    assert main(["reader-study", "create", "--real", str(real_dir), "--synthetic", str(real_dir), "--n", "3",
                 "--readers", "A", "--out", str(tmp_path / "n.db")]) == 2
    assert "`--n` needs --run" in capsys.readouterr().err
