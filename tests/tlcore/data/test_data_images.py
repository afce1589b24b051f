"""Image decoding inside archives: modes, bombs, truncation, downscaling (tlcore.data.image)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tlcore.data import ArchiveLimits, read_images
from tlcore.errors import DataError


@pytest.mark.parametrize("mode, fmt, extra", [
    ("L", "PNG", {}),
    ("RGBA", "PNG", {}),
    ("LA", "PNG", {}),
    ("P", "PNG", {}),
    ("1", "PNG", {}),
    ("I;16", "PNG", {}),
    ("RGB", "JPEG", {}),
    ("CMYK", "JPEG", {}),
    ("RGB", "BMP", {}),
    ("RGB", "WEBP", {}),
    ("P", "GIF", {}),
])
def test_item_30_every_mode_becomes_rgb_uint8(tmp_path, write_zip, image_bytes, mode, fmt, extra):
    data = image_bytes(mode, (9, 5), fmt, **extra)
    ext = {"JPEG": "jpg"}.get(fmt, fmt.lower())
    domain = read_images(write_zip(tmp_path / "m.zip", {f"cat/a.{ext}": data, f"dog/b.{ext}": data}))
    assert len(domain) == 2, domain.skipped
    for sample in domain.samples:
        assert sample.shape == (5, 9, 3) and sample.dtype == np.uint8


def test_sixteen_bit_scaled_not_clipped(tmp_path, write_zip):
    values = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, format="PNG")
    domain = read_images(write_zip(tmp_path / "w.zip", {"cat/a.png": buf.getvalue(), "dog/a.png": buf.getvalue()}))
    sample = domain.samples[0]
    assert sample[0, 0, 0] == 0 and sample[-1, -1, 0] == 255
    assert 100 < sample[4, 0, 0] < 160


def test_animated_gif_first_frame(tmp_path, write_zip):
    frames = [Image.new("P", (6, 4), i) for i in (10, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    domain = read_images(write_zip(tmp_path / "g.zip", {"cat/a.gif": buf.getvalue(), "dog/b.gif": buf.getvalue()}))
    assert domain.samples[0].shape == (4, 6, 3)


def test_downscale_keeps_aspect_and_original_size(tmp_path, write_zip, image_bytes):
    path = write_zip(tmp_path / "big.zip", {"cat/a.png": image_bytes("RGB", (600, 300)), "dog/b.png": image_bytes()})
    domain = read_images(path, max_side=64)
    assert domain.samples[0].shape == (32, 64, 3)
    assert domain.summary()["sizes"] == {"height": [300, 6], "width": [600, 8]}


def test_exif_rotation_applied(tmp_path, write_zip):
    im = Image.new("RGB", (20, 10), (200, 30, 30))
    exif = im.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif.tobytes())
    domain = read_images(write_zip(tmp_path / "r.zip", {"cat/a.jpg": buf.getvalue(), "dog/b.jpg": buf.getvalue()}))
    assert domain.samples[0].shape == (20, 10, 3)
    assert domain.original_sizes[0] == (20, 10)


def test_pixel_limit_skips_image(tmp_path, write_zip, image_bytes):
    path = write_zip(tmp_path / "px.zip", {"cat/big.png": image_bytes("RGB", (20, 20)), "cat/ok.png": image_bytes()})
    domain = read_images(path, limits=ArchiveLimits(max_pixels=100))
    assert len(domain) == 1
    assert [(s.file, s.reason) for s in domain.skipped] == [("cat/big.png", "image too large (20 x 20 pixels)")]


@pytest.mark.parametrize("side", [12, 50])
def test_item_26_pillow_decompression_bomb_skipped(tmp_path, write_zip, image_bytes, monkeypatch, side):
    members = {"cat/bomb.png": image_bytes("RGB", (side, side)), "cat/ok.png": image_bytes()}
    path = write_zip(tmp_path / "bomb.zip", members)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    domain = read_images(path)
    assert len(domain) == 1
    assert domain.skipped[0].file == "cat/bomb.png"
    assert domain.skipped[0].reason.startswith("image too large")


def test_item_27_truncated_images_skipped_and_counted(tmp_path, write_zip, image_bytes):
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    png, jpg = io.BytesIO(), io.BytesIO()
    noisy.save(png, format="PNG")
    noisy.save(jpg, format="JPEG")
    path = write_zip(tmp_path / "trunc.zip", {
        "cat/half.png": png.getvalue()[: len(png.getvalue()) // 2],
        "cat/half.jpg": jpg.getvalue()[: len(jpg.getvalue()) // 2],
        "cat/fake.png": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        "cat/ok.png": image_bytes(),
        "dog/ok.png": image_bytes(),
    })
    domain = read_images(path)
    assert len(domain) == 2
    reasons = {s.file: s.reason for s in domain.skipped}
    assert reasons == {
        "cat/half.png": "corrupt or truncated image",
        "cat/half.jpg": "corrupt or truncated image",
        "cat/fake.png": "not an image",
    }


def test_nothing_left_names_file_and_reasons(tmp_path, write_zip, image_bytes):
    half = image_bytes("RGB", (40, 40))[:60]
    path = write_zip(tmp_path / "broken.zip", {"cat/a.png": half, "dog/b.png": half})
    pattern = r"broken\.zip: no images found \(4 files skipped: .*corrupt or truncated image': 2"
    with pytest.raises(DataError, match=pattern):
        read_images(path)


def test_item_28_disallowed_format_not_decoded(tmp_path, write_zip, image_bytes):
    tiff = image_bytes("RGB", (4, 4), "TIFF")
    path = write_zip(tmp_path / "f.zip", {"cat/a.png": tiff, "cat/b.tif": tiff, "dog/c.png": image_bytes()})
    domain = read_images(path)
    assert len(domain) == 1
    assert {s.file: s.reason for s in domain.skipped} == {
        "cat/a.png": "not an image",
        "cat/b.tif": "not an image",
        "cat/": "class folder has no valid images",
    }


def test_item_29_png_text_chunk_bomb_is_rejected_cleanly(tmp_path, write_zip, image_bytes, monkeypatch):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a" * 200_000, zip=True)  # a zTXt chunk: tiny compressed, large decompressed
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buf, format="PNG", pnginfo=info)
    monkeypatch.setattr(PngImagePlugin, "MAX_TEXT_CHUNK", 1024)
    path = write_zip(tmp_path / "text.zip", {"cat/bomb.png": buf.getvalue(), "cat/ok.png": image_bytes(),
                                             "dog/ok.png": image_bytes()})
    domain = read_images(path)
    assert len(domain) == 2
    assert [(s.file, s.reason) for s in domain.skipped] == [("cat/bomb.png", "corrupt or truncated image")]


def test_item_31_degenerate_sizes_give_valid_arrays_and_square_tensors(tmp_path, write_zip, image_bytes):
    from tlcore.training.batches import encode_images

    sizes = {"cat/one.png": (1, 1), "cat/panorama.png": (20_000, 1), "dog/tall.png": (1, 20_000),
             "dog/ok.png": (8, 6)}
    path = write_zip(tmp_path / "sizes.zip", {name: image_bytes("RGB", size) for name, size in sizes.items()})
    domain = read_images(path, max_side=64)
    assert not domain.skipped and len(domain) == 4
    shapes = dict(zip(domain.sources, (s.shape for s in domain.samples)))
    assert shapes == {"cat/one.png": (1, 1, 3), "cat/panorama.png": (1, 64, 3), "dog/tall.png": (64, 1, 3),
                      "dog/ok.png": (6, 8, 3)}
    encoded = encode_images(domain.samples, np.zeros(4, dtype=np.int64), 16, (0.5,) * 3, (0.5,) * 3)
    assert tuple(encoded.images.shape) == (4, 3, 16, 16)


def test_item_32_identical_images_in_two_classes_are_reported(tmp_path, write_zip, image_bytes):
    """The same pixels under two labels are a label conflict; a lossless re-encode (PNG -> BMP) still matches,
    since the hash is over the decoded pixels and shape, not the file bytes (tlcore/data/duplicates.py)."""
    same = image_bytes("RGB", (8, 8), color=(1, 2, 3))
    path = write_zip(tmp_path / "dup.zip", {"cat/a.png": same, "dog/b.bmp": image_bytes("RGB", (8, 8), "BMP",
                                                                                        color=(1, 2, 3)),
                                            "dog/c.png": image_bytes(), "dog/d.png": image_bytes(),
                                            "dog/e.png": image_bytes("RGB", (6, 8))})  # same colour, other shape
    domain = read_images(path)
    dups = domain.summary()["duplicates"]
    assert dups["groups"] == 2 and dups["extra_copies"] == 2
    assert dups["label_conflicts"]["groups"] == 1 and dups["label_conflicts"]["samples"] == 2
    assert dups["label_conflicts"]["examples"] == [{"files": ["cat/a.png", "dog/b.bmp"], "labels": ["cat", "dog"]}]
    assert dups["same_label"] == {"groups": 1, "extra_copies": 1, "examples": [["dog/c.png", "dog/d.png"]]}
