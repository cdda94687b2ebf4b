#!/usr/bin/env python3
"""Draws files/gambar.png, the sample image of Tugas 1b: two computers
joined by a cable, in a 128x96 PNG. Standard library only (zlib, struct)."""
import struct
import zlib
from pathlib import Path

W, H = 128, 96
SKY, SCREEN, FRAME, CABLE, DESK = (225, 238, 250), (40, 120, 200), (60, 60, 70), (230, 120, 30), (150, 110, 70)
px = [[SKY for _ in range(W)] for _ in range(H)]


def rect(x0, y0, x1, y1, c):
    for y in range(y0, y1):
        for x in range(x0, x1):
            px[y][x] = c


for x0 in (10, 80):  # two computers
    rect(x0, 20, x0 + 38, 50, FRAME)
    rect(x0 + 3, 23, x0 + 35, 47, SCREEN)
    rect(x0 + 15, 50, x0 + 23, 58, FRAME)
    rect(x0 + 8, 58, x0 + 30, 62, FRAME)
rect(0, 70, W, 96, DESK)
rect(29, 62, 31, 75, CABLE)  # the cable between them
rect(29, 74, 101, 76, CABLE)
rect(99, 62, 101, 75, CABLE)
for i in range(0, 60, 12):  # data packets on the wire
    rect(36 + i, 72, 42 + i, 78, (250, 250, 250))

raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in px)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
out = Path(__file__).resolve().parent.parent / "files" / "gambar.png"
out.write_bytes(png)
print(f"wrote {out} ({len(png)} bytes)")
