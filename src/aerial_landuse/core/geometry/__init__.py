"""Geometry of tiles and grids: footprints, areas, grid cells, neighbourhood smoothing."""
