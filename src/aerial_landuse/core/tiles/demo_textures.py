"""Synthetic aerial textures for the six NLCD-derived land-use classes.

Each generator paints a 1 m/pixel look-alike of its class with random orientation, colour,
density and scale, so that an ImageNet network separates the classes well but not perfectly.
Nothing here touches disk: generators return uint8 RGB arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

LAND_USE_CLASSES = ("Barren", "Cultivated", "Developed", "Forest", "Herbaceous", "Shrub")

Rgb = tuple[int, int, int]
Generator = Callable[[np.random.Generator, int], np.ndarray]


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a random ``cells`` x ``cells`` grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray((grid * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def fractal_noise(
    rng: np.random.Generator, size: int, octaves: tuple[int, ...] = (4, 12, 40)
) -> np.ndarray:
    """Sum of value-noise octaves, normalised to [0, 1]."""
    total = sum(smooth_noise(rng, size, c) / (i + 1) for i, c in enumerate(octaves))
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def jitter(rng: np.random.Generator, colour: Rgb, amount: int) -> Rgb:
    """The colour with each channel shifted by up to ``amount``."""
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)  # type: ignore[return-value]


def tint(base: Rgb, noise: np.ndarray, strength: float) -> np.ndarray:
    """A canvas of ``base`` colour modulated by ``noise`` (brighter where noise is high)."""
    factor = 1.0 + strength * (noise[..., None] - 0.5) * 2.0
    return np.clip(np.asarray(base, np.float32)[None, None, :] * factor, 0, 255)


def rotated_coords(size: int, angle: float) -> np.ndarray:
    """Pixel coordinates projected on the direction ``angle`` (radians)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return x * math.cos(angle) + y * math.sin(angle)


def draw_blobs(
    img: Image.Image,
    rng: np.random.Generator,
    count: int,
    radius: tuple[float, float],
    colour: Rgb,
    colour_jitter: int,
    shadow: int,
) -> None:
    """Round crowns or bushes, each with a shadow cast to the south-east."""
    draw = ImageDraw.Draw(img)
    size = img.size[0]
    for _ in range(count):
        r = rng.uniform(*radius)
        x, y = rng.uniform(-r, size + r, 2)
        if shadow:
            dark = (0, max(0, 30 - shadow), 0)
            draw.ellipse(
                (x - r + r * 0.5, y - r + r * 0.5, x + r + r * 0.5, y + r + r * 0.5), fill=dark
            )
        draw.ellipse((x - r, y - r, x + r, y + r), fill=jitter(rng, colour, colour_jitter))


def forest(rng: np.random.Generator, size: int) -> np.ndarray:
    """Closed canopy: dense overlapping crowns over dark understorey."""
    base = jitter(rng, (34, 62, 30), 12)
    canvas = tint(base, fractal_noise(rng, size), 0.35)
    img = Image.fromarray(canvas.astype(np.uint8))
    density = rng.uniform(0.35, 1.4)  # open woodland to closed canopy
    crown = jitter(rng, (52, 92, 44), 18)
    draw_blobs(img, rng, int(420 * density), (3.5, 9.5), crown, 22, shadow=1)
    if rng.random() < 0.3:  # a clearing
        draw = ImageDraw.Draw(img)
        cx, cy, r = *rng.uniform(0, size, 2), rng.uniform(12, 30)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=jitter(rng, (96, 118, 60), 15))
    return np.asarray(img.filter(ImageFilter.GaussianBlur(0.6)))


def cultivated(rng: np.random.Generator, size: int) -> np.ndarray:
    """Fields of crop rows: parallel stripes at a per-field angle and period."""
    palettes = [
        ((88, 130, 52), (120, 98, 66)),
        ((188, 170, 98), (150, 128, 80)),
        ((70, 112, 48), (92, 122, 60)),
        ((140, 112, 80), (112, 88, 62)),
    ]
    out = np.zeros((size, size, 3), np.float32)
    split_angle = rng.uniform(0, math.pi)
    split_at = rng.uniform(-0.4, 0.4) * size + rotated_coords(size, split_angle).mean()
    side = rotated_coords(size, split_angle) > split_at
    for field in (side, ~side):
        crop, soil = palettes[rng.integers(len(palettes))]
        crop, soil = jitter(rng, crop, 14), jitter(rng, soil, 14)
        period = rng.uniform(3.0, 9.0)
        phase = rotated_coords(size, rng.uniform(0, math.pi)) * (2 * math.pi / period)
        contrast = rng.uniform(0.08, 1.0)  # fallow, young or mown fields: faint rows
        stripes = 0.5 + contrast * (
            (np.sin(phase) > rng.uniform(-0.4, 0.4)).astype(np.float32) - 0.5
        )
        field_img = stripes[..., None] * np.asarray(crop) + (1 - stripes[..., None]) * np.asarray(
            soil
        )
        field_img *= 1 + 0.15 * (smooth_noise(rng, size, 5)[..., None] - 0.5)
        out[field] = field_img[field]
    img = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)  # a farm track along the field boundary
    if rng.random() < 0.5:
        ux, uy = math.cos(split_angle), math.sin(split_angle)
        cx, cy = size / 2 + ux * (split_at - rotated_coords(size, split_angle).mean()), size / 2
        draw.line(
            (cx - uy * size, cy + ux * size, cx + uy * size, cy - ux * size),
            fill=(170, 160, 140),
            width=3,
        )
    return np.asarray(img.filter(ImageFilter.GaussianBlur(0.5)))


def developed(rng: np.random.Generator, size: int) -> np.ndarray:
    """Streets with roof tops, driveways and lawn between them."""
    lawn = jitter(rng, (98, 122, 74), 15)
    img = Image.fromarray(tint(lawn, fractal_noise(rng, size), 0.25).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    angle = rng.uniform(0, math.pi)
    ux, uy = math.cos(angle), math.sin(angle)
    asphalt = jitter(rng, (92, 92, 96), 10)
    spacing = rng.uniform(60, 110)
    for k in range(-3, 4):  # parallel streets and one cross street
        ox, oy = size / 2 - uy * k * spacing, size / 2 + ux * k * spacing
        draw.line(
            (ox - ux * 400, oy - uy * 400, ox + ux * 400, oy + uy * 400),
            fill=asphalt,
            width=int(rng.integers(7, 13)),
        )
    draw.line(
        (size / 2 - uy * 400, size / 2 + ux * 400, size / 2 + uy * 400, size / 2 - ux * 400),
        fill=asphalt,
        width=10,
    )
    roofs = [(70, 70, 74), (150, 146, 140), (120, 70, 58), (200, 198, 192), (96, 82, 72)]
    for _ in range(int(rng.integers(6, 70))):
        w, h = rng.uniform(8, 22), rng.uniform(8, 18)
        cx, cy = rng.uniform(0, size, 2)
        corners = [(-w, -h), (w, -h), (w, h), (-w, h)]
        poly = [(cx + a * ux - b * uy, cy + a * uy + b * ux) for a, b in corners]
        shadow = [(x + 3, y + 3) for x, y in poly]
        draw.polygon(shadow, fill=(40, 44, 40))
        draw.polygon(poly, fill=jitter(rng, roofs[rng.integers(len(roofs))], 12))
    draw_blobs(img, rng, int(rng.integers(5, 40)), (2.5, 6.0), (50, 84, 42), 12, shadow=1)
    return np.asarray(img)


def herbaceous(rng: np.random.Generator, size: int) -> np.ndarray:
    """Open grassland: soft, low-contrast green-yellow patches."""
    grass = jitter(rng, (128, 146, 82), 20)
    noise = fractal_noise(rng, size, (3, 9, 30, 90))
    canvas = tint(grass, noise, 0.22)
    dry = np.asarray(jitter(rng, (170, 160, 104), 14), np.float32)
    dryness = np.clip(smooth_noise(rng, size, 4) * rng.uniform(0.2, 0.9), 0, 1)[..., None]
    canvas = canvas * (1 - dryness * 0.6) + dry * dryness * 0.6
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    draw_blobs(
        img,
        rng,
        int(rng.integers(0, 60)),
        (2.0, 4.5),
        (84, 108, 58),
        10,
        shadow=int(rng.integers(0, 2)),
    )
    return np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)))


def shrub(rng: np.random.Generator, size: int) -> np.ndarray:
    """Scrubland: scattered dark bushes with shadows on light, dry soil."""
    soil = jitter(rng, (168, 146, 110), 18)
    img = Image.fromarray(tint(soil, fractal_noise(rng, size), 0.25).astype(np.uint8))
    density = rng.uniform(0.12, 1.6)
    draw_blobs(
        img, rng, int(160 * density), (2.0, 6.0), jitter(rng, (76, 84, 52), 12), 14, shadow=1
    )
    return np.asarray(img.filter(ImageFilter.GaussianBlur(0.5)))


def barren(rng: np.random.Generator, size: int) -> np.ndarray:
    """Bare rock, sand or a quarry floor: grainy, cracks, boulders, at most a few bushes."""
    ground = jitter(rng, [(186, 176, 160), (160, 150, 138), (190, 160, 128)][rng.integers(3)], 16)
    grain = rng.normal(0, 1, (size, size)).astype(np.float32) * rng.uniform(4, 14)
    canvas = tint(ground, fractal_noise(rng, size, (3, 16, 60)), 0.3) + grain[..., None]
    if rng.random() < 0.5:  # dune ripples
        ripples = np.sin(rotated_coords(size, rng.uniform(0, math.pi)) / rng.uniform(3, 8))
        canvas += ripples[..., None] * 8
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 8))):  # cracks
        x, y = rng.uniform(0, size, 2)
        points = [(x, y)]
        for _ in range(6):
            x, y = x + rng.normal(0, 14), y + rng.normal(0, 14)
            points.append((x, y))
        draw.line(points, fill=(110, 100, 92), width=1)
    for _ in range(int(rng.integers(0, 25))):  # boulders
        r, (x, y) = rng.uniform(1.5, 5), rng.uniform(0, size, 2)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=jitter(rng, (130, 124, 118), 20))
    if rng.random() < 0.3:  # a few hardy bushes
        draw_blobs(img, rng, int(rng.integers(3, 25)), (1.5, 4.0), (88, 90, 60), 12, shadow=1)
    return np.asarray(img)


GENERATORS: dict[str, Generator] = {
    "Barren": barren,
    "Cultivated": cultivated,
    "Developed": developed,
    "Forest": forest,
    "Herbaceous": herbaceous,
    "Shrub": shrub,
}


def photometric_variation(
    rng: np.random.Generator, tile: np.ndarray, strength: float = 1.0
) -> np.ndarray:
    """Sensor and season differences: brightness, contrast, colour balance and sensor noise."""
    out = tile.astype(np.float32)
    mean = out.mean(axis=(0, 1), keepdims=True)
    out = (out - mean) * (1 + strength * rng.uniform(-0.2, 0.2)) + mean * (
        1 + strength * rng.uniform(-0.15, 0.15)
    )
    out *= 1 + strength * rng.uniform(-0.07, 0.07, size=(1, 1, 3))
    out += rng.normal(0, rng.uniform(1, 5), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def edge_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Soft mask covering a band along one random tile edge (a neighbouring parcel)."""
    depth = rng.uniform(0.15, 0.5) * size
    coords = rotated_coords(size, rng.choice([0, 0.5, 1, 1.5]) * math.pi)
    coords = coords - coords.min()
    wobble = (smooth_noise(rng, size, 6) - 0.5) * 20
    return np.clip((depth + wobble - coords) / 6.0, 0, 1)


def labelled_tile(
    rng: np.random.Generator, label: str, size: int, mix_probability: float
) -> np.ndarray:
    """One training tile of ``label``; sometimes a neighbouring class intrudes along an edge."""
    tile = GENERATORS[label](rng, size).astype(np.float32)
    if rng.random() < mix_probability:
        other = rng.choice([c for c in LAND_USE_CLASSES if c != label])
        mask = edge_mask(rng, size)[..., None]
        tile = tile * (1 - mask) + GENERATORS[other](rng, size) * mask
    return photometric_variation(rng, tile.astype(np.uint8))


def composite_tile(rng: np.random.Generator, class_mask: np.ndarray, size: int) -> np.ndarray:
    """A tile whose pixels follow ``class_mask`` (class index per pixel), one texture per class."""
    out = np.zeros((size, size, 3), np.float32)
    for index in np.unique(class_mask):
        texture = GENERATORS[LAND_USE_CLASSES[index]](rng, size).astype(np.float32)
        where = class_mask == index
        out[where] = texture[where]
    return photometric_variation(rng, out.astype(np.uint8), strength=0.5)
