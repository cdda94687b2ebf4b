#!/usr/bin/env python3
"""Makes the raster images in ../www/images/ (the SVG there is hand-written).

Standard library only (zlib + struct), so anyone can re-run it:

    python3 tugas8/tools/make_images.py

- www/images/pola.png : 240x160 RGB, a colour gradient with a grid of
  circles ("pola" = pattern), 8-bit truecolour, no interlace.
- www/favicon.ico     : 32x32 icon; the ICO holds one PNG image (allowed
  since Windows Vista, and what browsers read), a blue disc with a white
  "8"-like double ring for Tugas 8.

The output is deterministic: the same bytes every run.
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
WWW = os.path.join(HERE, "..", "www")


def png(width, height, pixel, alpha=False):
    """A PNG file's bytes; pixel(x, y) gives (r, g, b) or (r, g, b, a)."""
    bpp = 4 if alpha else 3
    rows = bytearray()
    for y in range(height):
        line = bytearray()
        for x in range(width):
            line.extend(pixel(x, y))
        # Filter type 1 (Sub): each byte minus the same channel of the pixel
        # to its left; a smooth gradient then compresses to almost nothing.
        rows.append(1)
        rows.extend((line[i] - (line[i - bpp] if i >= bpp else 0)) & 0xFF
                    for i in range(len(line)))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    color_type = 6 if alpha else 2
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


def pattern(x, y):
    r = int(255 * x / 239)
    g = int(255 * y / 159)
    b = 200
    cx, cy = (x % 40) - 20, (y % 40) - 20
    if cx * cx + cy * cy < 12 * 12:
        r, g, b = 255 - r, 255 - g, 60
    return (r, g, b)


def icon(x, y):
    d = math.hypot(x - 15.5, y - 15.5)
    if d > 15.5:
        return (0, 0, 0, 0)
    for cy in (10.5, 20.5):  # two rings stacked: an "8"
        if 3.0 <= math.hypot(x - 15.5, y - cy) <= 5.2:
            return (255, 255, 255, 255)
    return (30, 90, 200, 255)


def ico(png_bytes, size):
    header = struct.pack("<HHH", 0, 1, 1)  # reserved, type 1 = icon, 1 image
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png_bytes), 6 + 16)
    return header + entry + png_bytes


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote {os.path.relpath(path)} ({len(data)} bytes)")


if __name__ == "__main__":
    write(os.path.join(WWW, "images", "pola.png"), png(240, 160, pattern))
    write(os.path.join(WWW, "favicon.ico"), ico(png(32, 32, icon, alpha=True), 32))
