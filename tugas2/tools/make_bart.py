#!/usr/bin/env python3
"""Draws tugas2/bart.png: a small original cartoon (a yellow spiky-haired
head on a sky-blue background), 160x160, as an indexed-colour PNG.

Only the standard library (zlib, struct) is used, so the image can be made
again anywhere:  python3 tools/make_bart.py bart.png
"""
import struct
import sys
import zlib

W = H = 160
PALETTE = [
    (135, 206, 235),  # 0 sky blue background
    (255, 217, 15),   # 1 yellow skin
    (0, 0, 0),        # 2 black outline / pupils
    (255, 255, 255),  # 3 white eyes
    (230, 90, 40),    # 4 orange shirt
    (150, 60, 40),    # 5 mouth
    (40, 120, 40),    # 6 grass
    (70, 160, 60),    # 7 light grass
    (250, 250, 255),  # 8 cloud
]
# 9..24: the sky, darker at the top
SKY = len(PALETTE)
PALETTE += [(90 + 3 * i, 160 + 3 * i, 225 + i) for i in range(16)]


def noise(x, y):
    """Deterministic pseudo-random 0..255 for a pixel (no random module)."""
    n = (x * 374761393 + y * 668265263) & 0xFFFFFFFF
    n = ((n ^ (n >> 13)) * 1274126177) & 0xFFFFFFFF
    return (n ^ (n >> 16)) & 0xFF


def background(x, y):
    for cx, cy, r in ((30, 25, 12), (44, 20, 14), (58, 26, 10), (125, 40, 11), (138, 36, 13)):
        if inside_ellipse(x, y, cx, cy, r, r * 0.7):
            return 8
    # a dithered vertical gradient: each row mixes two neighbouring shades
    level = y * 15 / 150
    shade = int(level) + (1 if noise(x, y) / 256 < level - int(level) else 0)
    return SKY + min(shade, 15)


def inside_ellipse(x, y, cx, cy, rx, ry):
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def pixel(x, y):
    # grass strip and shirt
    if y >= 150:
        return 7 if noise(x, y) < 90 else 6
    if 122 <= y < 150 and 45 <= x <= 115:
        return 2 if x in (45, 115) or y == 122 else 4
    # neck
    if 110 <= y < 122 and 68 <= x <= 92:
        return 2 if x in (68, 92) else 1
    # head: a rounded box with a zig-zag top (the spikes)
    left, right, top, bottom = 50, 110, 40, 112
    spike = abs(((x - left) % 12) - 6)  # 0..6 triangle wave
    crown = top - 14 + spike * 2
    if left <= x <= right and crown <= y <= bottom:
        edge = x in (left, right) or y == bottom or y <= crown + 1
        # eyes
        for ex in (70, 90):
            if inside_ellipse(x, y, ex, 62, 9, 10):
                if inside_ellipse(x, y, ex + 2, 63, 2.5, 2.5):
                    return 2
                if not inside_ellipse(x, y, ex, 62, 8, 9):
                    return 2
                return 3
        # nose
        if inside_ellipse(x, y, 99, 74, 6, 4):
            return 2 if not inside_ellipse(x, y, 99, 74, 5, 3) else 1
        # mouth: a wide smile
        if 64 <= x <= 100 and inside_ellipse(x, y, 82, 88, 18, 10) and y >= 90:
            return 5 if inside_ellipse(x, y, 82, 88, 17, 9) else 2
        return 2 if edge else 1
    return background(x, y)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def main(path):
    rows = b"".join(b"\x00" + bytes(pixel(x, y) for x in range(W)) for y in range(H))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 3, 0, 0, 0))
    png += chunk(b"PLTE", b"".join(struct.pack("BBB", *c) for c in PALETTE))
    png += chunk(b"tEXt", b"Comment\x00tugas2 sample image, drawn by tools/make_bart.py")
    png += chunk(b"IDAT", zlib.compress(rows, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)
    print(f"{path}: {len(png)} bytes, {W}x{H}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bart.png")
