"""Render synthetic indoor RGB-D scenes with exact ground-truth depth.

A procedural, vectorised (numpy) ray caster: a rectangular room (floor, four walls, ceiling)
seen by a pinhole camera with NYU-Depth-v2-like intrinsics scaled to the working resolution,
furnished with randomly placed boxes, cylinders, spheres and slabs (tables with legs, wall
shelves). Every pixel takes the nearest hit over all primitives (so objects occlude each other
and the room), surfaces are textured with crops of natural images bundled with scikit-image
(public-domain / CC0 pictures, see ``TEXTURES``), and shaded with a Lambertian point light plus
ambient light, with hard shadows cast by the objects.

Depth is the z-depth along the optical axis in metres (the convention of NYU Depth v2 and of
``uqcore.read_depth``), about 0.5-10 m. Everything is deterministic per seed.

    rgb, depth = render_scene(seed, height=128, width=160)
    write_scenes("out/", n=100, seed=0)   # out/scene_000000.png + out/scene_000000_depth.png

Command line (:mod:`uqcore.commands.make_scenes`): ``python -m uqcore make-scenes --n N --seed S --out DIR [--height H --width W]``.
Scene ``i`` of a run is rendered with seed ``S + i``, so seed ranges are disjoint sets of scenes.

Modules: :mod:`~uqcore.scenes.room` (the scene description and :func:`sample_scene`),
:mod:`~uqcore.scenes.raycast` (camera, textures, intersections, :func:`render`),
:mod:`~uqcore.scenes.files` (PNG pairs, :func:`write_scenes`).
"""

from __future__ import annotations

from uqcore.scenes.files import list_pairs, load_rgbd, save_pair, write_scenes
from uqcore.scenes.raycast import NYU_INTRINSICS, camera_rays, intrinsics, render, render_scene
from uqcore.scenes.room import MAX_DEPTH, MIN_DEPTH, TEXTURES, Material, Primitive, Scene, sample_scene

__all__ = [
    "MAX_DEPTH",
    "MIN_DEPTH",
    "TEXTURES",
    "Material",
    "Primitive",
    "Scene",
    "sample_scene",
    "NYU_INTRINSICS",
    "camera_rays",
    "intrinsics",
    "render",
    "render_scene",
    "list_pairs",
    "load_rgbd",
    "save_pair",
    "write_scenes",
]
