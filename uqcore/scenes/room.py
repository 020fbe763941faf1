"""The scene description: a room, its furniture and their materials, drawn per seed.

A :class:`Scene` is a rectangular room (floor, four walls, ceiling) with a camera pose, a point
light and a list of :class:`Primitive` objects (boxes, vertical cylinders, spheres; tables with
legs and wall shelves are built from boxes), each with a :class:`Material` that crops, tiles and
tints one of the ``TEXTURES``. :func:`sample_scene` draws a furnished room from a seed
(``numpy.random.default_rng(seed)``); the same seed gives the same scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

MAX_DEPTH = 10.0
MIN_DEPTH = 0.5

# scikit-image sample images used as textures, with their licences (from skimage.data docstrings).
TEXTURES: dict[str, str] = {
    "astronaut": "public domain (NASA)",
    "camera": "CC0 (Lav Varshney)",
    "coffee": "CC0 (Rachel Michetti)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "rocket": "public domain (SpaceX)",
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (DeviantArt linolafett)",
    "gravel": "CC0 (CC0Textures)",
    "text": "public domain (Wikipedia)",
    "coins": "no known copyright restrictions (Brooklyn Museum)",
    "retina": "CC0 (Mikael Haggstrom)",
    "immunohistochemistry": "no known copyright restrictions (CMMI)",
    "hubble_deep_field": "public domain (NASA)",
    "clock": "public domain (Stefan van der Walt)",
    "cell": "CC0",
}


# ------------------------------------------------------------------------------------------
# scene description
# ------------------------------------------------------------------------------------------
@dataclass
class Material:
    texture: int = 0  # index into TEXTURES
    crop: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # x0, y0, w, h (fractions)
    scale: float = 1.0  # metres per texture repeat
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    colour: tuple[float, float, float] = (0.5, 0.5, 0.5)
    flat: float = 0.0  # blend towards the flat colour (0: pure texture)


@dataclass
class Primitive:
    """kind: "box" (centre, half sizes, yaw), "cylinder" (vertical: centre x/z, y0, y1, radius),
    "sphere" (centre, radius)."""

    kind: str
    centre: tuple[float, float, float]
    size: tuple[float, float, float] = (0.5, 0.5, 0.5)  # box half sizes; (r, y0, y1) cylinder; (r,) sphere
    yaw: float = 0.0  # degrees, boxes only
    material: Material = field(default_factory=Material)


@dataclass
class Scene:
    """A room [x0, x1] x [0, height] x [z0, z1] (metres); the camera stands at x = z = 0."""

    x0: float = -2.5
    x1: float = 2.5
    z0: float = -1.0
    z1: float = 6.0
    room_height: float = 2.8
    camera_height: float = 1.4
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    light: tuple[float, float, float] = (0.0, 2.6, 2.5)
    light_power: float = 0.9
    ambient: float = 0.35
    room_materials: list[Material] = field(default_factory=lambda: [Material() for _ in range(6)])
    objects: list[Primitive] = field(default_factory=list)


def sample_scene(seed: int, **overrides) -> Scene:
    """Draw a random furnished room from ``seed``; ``overrides`` replace fields of the result
    (e.g. ``objects=[]``, ``yaw=0``, ``z1=4.0`` for a bare room with its back wall at 4 m)."""
    rng = np.random.default_rng(seed)
    width = rng.uniform(3.0, 7.0)
    left = width * rng.uniform(0.3, 0.7)
    scene = Scene(
        x0=-left,
        x1=width - left,
        z0=-rng.uniform(0.3, 1.5),
        z1=rng.uniform(3.5, 8.8),
        room_height=rng.uniform(2.4, 3.2),
        camera_height=rng.uniform(1.35, 1.55),
        yaw=rng.uniform(-25, 25),
        pitch=rng.uniform(-18, 5),
        roll=rng.uniform(-4, 4),
        light_power=rng.uniform(0.6, 1.1),
        ambient=rng.uniform(0.2, 0.45),
    )
    scene.light = (
        rng.uniform(scene.x0 + 0.3, scene.x1 - 0.3),
        scene.room_height - rng.uniform(0.1, 0.4),
        rng.uniform(0.0, scene.z1 - 0.3),
    )
    scene.room_materials = [_random_material(rng, flat_max=0.5) for _ in range(6)]
    scene.objects = _random_objects(rng, scene)
    for key, value in overrides.items():
        if not hasattr(scene, key):
            raise ValueError(f"Scene has no field {key!r}")
    return replace(scene, **overrides)


def _random_material(rng: np.random.Generator, flat_max: float = 0.6) -> Material:
    w = rng.uniform(0.15, 0.6)
    h = rng.uniform(0.15, 0.6)
    return Material(
        texture=int(rng.integers(len(TEXTURES))),
        crop=(rng.uniform(0, 1 - w), rng.uniform(0, 1 - h), w, h),
        scale=rng.uniform(0.3, 2.0),
        tint=tuple(rng.uniform(0.6, 1.15, 3)),
        colour=tuple(rng.uniform(0.1, 0.95, 3)),
        flat=rng.uniform(0.0, flat_max),
    )


def _free_spot(rng, scene: Scene, half: float, margin: float = 1.0):
    """(x, z) inside the room, ``half`` from the walls and ``margin`` + ``half`` from the camera."""
    for _ in range(20):
        x = rng.uniform(scene.x0 + half, scene.x1 - half)
        z = rng.uniform(max(scene.z0 + half, 0.3), scene.z1 - half)
        if math.hypot(x, z) > margin + half:
            return x, z
    return 0.5 * (scene.x0 + scene.x1), scene.z1 - half - 0.05


def _random_objects(rng: np.random.Generator, scene: Scene) -> list[Primitive]:
    objects: list[Primitive] = []
    n = int(rng.integers(3, 13))
    kinds = rng.choice(["box", "cylinder", "sphere", "table", "shelf"], size=n, p=[0.32, 0.18, 0.15, 0.18, 0.17])
    for kind in kinds:
        mat = _random_material(rng)
        if kind == "box":
            hx, hy, hz = rng.uniform(0.15, 0.75), rng.uniform(0.1, 1.0), rng.uniform(0.15, 0.5)
            if rng.random() < 0.4:  # a cabinet against the back or a side wall
                wall = rng.integers(3)
                if wall == 0:
                    x, z, yaw = rng.uniform(scene.x0 + hx, scene.x1 - hx), scene.z1 - hz, 0.0
                else:
                    z = rng.uniform(1.2, scene.z1 - hx)
                    x = scene.x0 + hz if wall == 1 else scene.x1 - hz
                    yaw = 90.0
            else:
                x, z = _free_spot(rng, scene, max(hx, hz))
                yaw = rng.uniform(-90, 90)
            objects.append(Primitive(kind="box", centre=(x, hy, z), size=(hx, hy, hz), yaw=yaw, material=mat))
        elif kind == "cylinder":
            r, h = rng.uniform(0.08, 0.4), rng.uniform(0.2, 1.3)
            x, z = _free_spot(rng, scene, r)
            objects.append(Primitive(kind="cylinder", centre=(x, 0.0, z), size=(r, 0.0, h), yaw=0.0, material=mat))
        elif kind == "sphere":
            r = rng.uniform(0.1, 0.5)
            x, z = _free_spot(rng, scene, r)
            objects.append(Primitive(kind="sphere", centre=(x, r, z), size=(r,), yaw=0.0, material=mat))
        elif kind == "table":
            hx, hz = rng.uniform(0.4, 1.0), rng.uniform(0.3, 0.6)
            top, th, leg = rng.uniform(0.65, 0.8), rng.uniform(0.015, 0.03), rng.uniform(0.02, 0.03)
            x, z = _free_spot(rng, scene, max(hx, hz))
            yaw = rng.uniform(-90, 90)
            objects.append(Primitive(kind="box", centre=(x, top - th, z), size=(hx, th, hz), yaw=yaw, material=mat))
            c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
            for sx, sz in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
                lx, lz = sx * (hx - 2 * leg), sz * (hz - 2 * leg)
                # same rotation convention as the box intersection (local -> world about y)
                wx, wz = x + c * lx + s * lz, z - s * lx + c * lz
                legh = 0.5 * (top - 2 * th)
                objects.append(
                    Primitive(kind="box", centre=(wx, legh, wz), size=(leg, legh, leg), yaw=yaw, material=mat)
                )
            if rng.random() < 0.6:  # something on the table
                m2 = _random_material(rng)
                if rng.random() < 0.5:
                    r = rng.uniform(0.05, 0.15)
                    objects.append(Primitive(kind="sphere", centre=(x, top + r, z), size=(r,), yaw=0.0, material=m2))
                else:
                    r, h = rng.uniform(0.04, 0.12), rng.uniform(0.1, 0.35)
                    objects.append(
                        Primitive(kind="cylinder", centre=(x, 0.0, z), size=(r, top, top + h), yaw=0.0, material=m2)
                    )
        else:  # shelf: stacked slabs against a wall
            hw, hd, th = rng.uniform(0.4, 1.0), rng.uniform(0.12, 0.2), rng.uniform(0.01, 0.02)
            wall = rng.integers(3)
            y = rng.uniform(0.3, 1.0)
            levels = int(rng.integers(2, 5))
            gap = rng.uniform(0.3, 0.5)
            if wall == 0:
                x, z, yaw = rng.uniform(scene.x0 + hw, scene.x1 - hw), scene.z1 - hd, 0.0
            else:
                z = rng.uniform(1.5, max(1.6, scene.z1 - hw))
                x = scene.x0 + hd if wall == 1 else scene.x1 - hd
                yaw = 90.0
            for k in range(levels):
                yk = y + k * gap
                if yk + th < scene.room_height - 0.1:
                    objects.append(Primitive(kind="box", centre=(x, yk, z), size=(hw, th, hd), yaw=yaw, material=mat))
    return objects
