"""Tiles: decoding, probing, thumbnails, the seeded split and sample, demo textures."""
