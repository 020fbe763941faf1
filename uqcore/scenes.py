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

Command line: ``python -m uqcore make-scenes --n N --seed S --out DIR [--height H --width W]``.
Scene ``i`` of a run is rendered with seed ``S + i``, so seed ranges are disjoint sets of scenes.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

# NYU Depth v2 colour camera at 640x480.
NYU_INTRINSICS = {"fx": 518.8, "fy": 519.5, "cx": 325.6, "cy": 253.7, "width": 640, "height": 480}
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

_EPS = 1e-4
_BIG = np.float32(1e9)


# ------------------------------------------------------------------------------------------
# camera
# ------------------------------------------------------------------------------------------
def intrinsics(height: int, width: int) -> tuple[float, float, float, float]:
    """NYU intrinsics (fx, fy, cx, cy) scaled from 640x480 to ``width`` x ``height``."""
    sx = width / NYU_INTRINSICS["width"]
    sy = height / NYU_INTRINSICS["height"]
    # pixel centres: NYU's cx, cy are in 0-based pixel coordinates of the 640x480 grid
    cx = (NYU_INTRINSICS["cx"] + 0.5) * sx - 0.5
    cy = (NYU_INTRINSICS["cy"] + 0.5) * sy - 0.5
    return NYU_INTRINSICS["fx"] * sx, NYU_INTRINSICS["fy"] * sy, cx, cy


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation (world: x right, y up, z forward); angles in degrees.

    yaw turns left/right about the world's y axis (positive: to the right), pitch tilts about x
    (positive: looking up), roll about the optical axis.
    """
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), math.sin(b)], [0, -math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return (ry @ rx @ rz).astype(np.float32)


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
            objects.append(Primitive("box", (x, hy, z), (hx, hy, hz), yaw, mat))
        elif kind == "cylinder":
            r, h = rng.uniform(0.08, 0.4), rng.uniform(0.2, 1.3)
            x, z = _free_spot(rng, scene, r)
            objects.append(Primitive("cylinder", (x, 0.0, z), (r, 0.0, h), 0.0, mat))
        elif kind == "sphere":
            r = rng.uniform(0.1, 0.5)
            x, z = _free_spot(rng, scene, r)
            objects.append(Primitive("sphere", (x, r, z), (r,), 0.0, mat))
        elif kind == "table":
            hx, hz = rng.uniform(0.4, 1.0), rng.uniform(0.3, 0.6)
            top, th, leg = rng.uniform(0.65, 0.8), rng.uniform(0.015, 0.03), rng.uniform(0.02, 0.03)
            x, z = _free_spot(rng, scene, max(hx, hz))
            yaw = rng.uniform(-90, 90)
            objects.append(Primitive("box", (x, top - th, z), (hx, th, hz), yaw, mat))
            c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
            for sx, sz in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
                lx, lz = sx * (hx - 2 * leg), sz * (hz - 2 * leg)
                # same rotation convention as the box intersection (local -> world about y)
                wx, wz = x + c * lx + s * lz, z - s * lx + c * lz
                legh = 0.5 * (top - 2 * th)
                objects.append(Primitive("box", (wx, legh, wz), (leg, legh, leg), yaw, mat))
            if rng.random() < 0.6:  # something on the table
                m2 = _random_material(rng)
                if rng.random() < 0.5:
                    r = rng.uniform(0.05, 0.15)
                    objects.append(Primitive("sphere", (x, top + r, z), (r,), 0.0, m2))
                else:
                    r, h = rng.uniform(0.04, 0.12), rng.uniform(0.1, 0.35)
                    objects.append(Primitive("cylinder", (x, 0.0, z), (r, top, top + h), 0.0, m2))
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
                    objects.append(Primitive("box", (x, yk, z), (hw, th, hd), yaw, mat))
    return objects


# ------------------------------------------------------------------------------------------
# textures
# ------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _textures() -> list[np.ndarray]:
    """The texture images as float32 [H, W, 3] in [0, 1] (grey images replicated)."""
    import skimage.data

    out = []
    for name in TEXTURES:
        im = np.asarray(getattr(skimage.data, name)())
        if im.dtype == bool:
            im = im.astype(np.uint8) * 255
        im = im.astype(np.float32)
        if im.max() > 1.5:
            im /= 255.0
        if im.ndim == 2:
            im = np.repeat(im[..., None], 3, axis=2)
        out.append(np.ascontiguousarray(im[..., :3]))
    return out


def _sample_texture(mat: Material, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Albedo [N, 3] at texture coordinates u, v (metres), tiled every ``mat.scale`` metres."""
    tex = _textures()[mat.texture % len(TEXTURES)]
    th, tw = tex.shape[:2]
    x0, y0, cw, ch = mat.crop
    fu = np.mod(u / mat.scale, 1.0)
    fv = np.mod(v / mat.scale, 1.0)
    # mirror-tile so seams do not jump
    fu = np.where(np.mod(np.floor(u / mat.scale), 2) == 1, 1 - fu, fu)
    fv = np.where(np.mod(np.floor(v / mat.scale), 2) == 1, 1 - fv, fv)
    px = np.clip(((x0 + fu * cw) * (tw - 1)).astype(np.int32), 0, tw - 1)
    py = np.clip(((y0 + fv * ch) * (th - 1)).astype(np.int32), 0, th - 1)
    albedo = tex[py, px] * np.asarray(mat.tint, np.float32)
    return (1 - mat.flat) * albedo + mat.flat * np.asarray(mat.colour, np.float32)


# ------------------------------------------------------------------------------------------
# ray-primitive intersections: origins O [N,3] or [3], directions D [N,3]
# each returns t [N] (inf where missed) and a function giving (normal [M,3], u [M], v [M])
# for the hit points of a subset of rays.
# ------------------------------------------------------------------------------------------
def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]], np.float32)


def _safe_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(np.abs(b) < 1e-12, np.float32(1e-12), b)
        return a / b


def _box_t(O, D, p: Primitive):
    c = np.asarray(p.centre, np.float32)
    h = np.asarray(p.size, np.float32)
    r = _rot_y(p.yaw)  # local -> world; world -> local is r^T
    co, si = float(r[0, 0]), float(r[0, 2])
    Oc = O - c
    Dx, Dy, Dz = D[:, 0], D[:, 1], D[:, 2]
    Ox, Oy, Oz = Oc[..., 0], Oc[..., 1], Oc[..., 2]
    Ol = (co * Ox - si * Oz, Oy, si * Ox + co * Oz)
    Dl = (co * Dx - si * Dz, Dy, si * Dx + co * Dz)
    tlo, thi = [], []
    for j in range(3):
        inv = _safe_div(np.float32(1.0), Dl[j])
        a = (-h[j] - Ol[j]) * inv
        b = (h[j] - Ol[j]) * inv
        tlo.append(np.minimum(a, b))
        thi.append(np.maximum(a, b))
    tnear = np.maximum(np.maximum(tlo[0], tlo[1]), tlo[2])
    tfar = np.minimum(np.minimum(thi[0], thi[1]), thi[2])
    hit = (tfar >= tnear) & (tnear > _EPS)
    t = np.where(hit, tnear, np.inf).astype(np.float32)

    def surface(idx, ts):
        Ds = np.stack([d[idx] for d in Dl], axis=1)
        Os = np.stack([o if np.ndim(o) == 0 else o[idx] for o in Ol], axis=-1)
        axis = np.stack([lo[idx] for lo in tlo], axis=1).argmax(axis=1)
        n = np.zeros_like(Ds)
        rows = np.arange(len(idx))
        n[rows, axis] = -np.sign(Ds[rows, axis])
        P = Os + ts[:, None] * Ds
        # planar mapping on the two other local axes
        ua = np.where(axis == 0, P[:, 2], P[:, 0])
        va = np.where(axis == 1, P[:, 2], P[:, 1])
        return n @ r.T, ua, va

    return t, surface


def _cylinder_t(O, D, p: Primitive):
    cx, _, cz = p.centre
    rad, y0, y1 = p.size
    Ox = O[..., 0] - cx
    Oz = O[..., 2] - cz
    Oy = O[..., 1]
    a = D[:, 0] ** 2 + D[:, 2] ** 2
    b = 2 * (Ox * D[:, 0] + Oz * D[:, 2])
    cc = Ox**2 + Oz**2 - rad**2
    disc = b * b - 4 * a * cc
    sq = np.sqrt(np.maximum(disc, 0))
    ts = _safe_div(-b - sq, 2 * a)
    ys = Oy + ts * D[:, 1]
    side = (disc >= 0) & (ts > _EPS) & (ys >= y0) & (ys <= y1)
    t_side = np.where(side, ts, np.inf)
    t_cap = np.full(D.shape[0], np.inf, np.float32)
    for yc in (y0, y1):
        tc = _safe_div(yc - Oy, D[:, 1])
        xc = Ox + tc * D[:, 0]
        zc = Oz + tc * D[:, 2]
        ok = (tc > _EPS) & (xc**2 + zc**2 <= rad**2)
        t_cap = np.minimum(t_cap, np.where(ok, tc, np.inf))
    t = np.minimum(t_side, t_cap).astype(np.float32)
    is_side = t_side <= t_cap

    def surface(idx, tsel):
        Os = O if O.ndim == 1 else O[idx]
        P = Os + tsel[:, None] * D[idx]
        px, pz = P[:, 0] - cx, P[:, 2] - cz
        sidehit = is_side[idx]
        n = np.zeros_like(P)
        n[:, 0] = np.where(sidehit, px / rad, 0)
        n[:, 2] = np.where(sidehit, pz / rad, 0)
        n[:, 1] = np.where(sidehit, 0, -np.sign(D[idx, 1]))
        ang = np.arctan2(pz, px) * rad
        u = np.where(sidehit, ang, px)
        v = np.where(sidehit, P[:, 1], pz)
        return n, u, v

    return t, surface


def _sphere_t(O, D, p: Primitive):
    c = np.asarray(p.centre, np.float32)
    rad = p.size[0]
    Oc = O - c
    a = (D * D).sum(axis=1)
    b = 2 * (Oc * D).sum(axis=-1)
    cc = (Oc * Oc).sum(axis=-1) - rad**2
    disc = b * b - 4 * a * cc
    ts = _safe_div(-b - np.sqrt(np.maximum(disc, 0)), 2 * a)
    t = np.where((disc >= 0) & (ts > _EPS), ts, np.inf).astype(np.float32)

    def surface(idx, tsel):
        Os = Oc if Oc.ndim == 1 else Oc[idx]
        P = Os + tsel[:, None] * D[idx]
        n = P / rad
        u = np.arctan2(n[:, 2], n[:, 0]) * rad
        v = np.arccos(np.clip(n[:, 1], -1, 1)) * rad
        return n, u, v

    return t, surface


_INTERSECT = {"box": _box_t, "cylinder": _cylinder_t, "sphere": _sphere_t}


def _room_t(O, D, scene: Scene):
    lo = np.array([scene.x0, 0.0, scene.z0], np.float32)
    hi = np.array([scene.x1, scene.room_height, scene.z1], np.float32)
    t1 = _safe_div(lo - O, D)
    t2 = _safe_div(hi - O, D)
    texit = np.maximum(t1, t2)
    axis = texit.argmin(axis=1)
    t = texit.min(axis=1).astype(np.float32)
    face = axis * 2 + (D[np.arange(len(D)), axis] > 0)  # 0:x0 1:x1 2:floor 3:ceiling 4:z0 5:z1
    return t, axis, face


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------
def camera_rays(scene: Scene, height: int, width: int, supersample: int = 1):
    """World-space ray directions [H*s, W*s, 3] scaled so that t along them is the z-depth."""
    fx, fy, cx, cy = intrinsics(height, width)
    s = supersample
    offs = (np.arange(s, dtype=np.float32) + 0.5) / s - 0.5
    us = (np.arange(width, dtype=np.float32)[:, None] + offs[None, :]).reshape(-1)
    vs = (np.arange(height, dtype=np.float32)[:, None] + offs[None, :]).reshape(-1)
    u, v = np.meshgrid(us, vs)
    d = np.stack([(u - cx) / fx, -(v - cy) / fy, np.ones_like(u)], axis=-1)  # camera, y up
    return d @ _rotation(scene.yaw, scene.pitch, scene.roll).T


def render(scene: Scene, height: int = 128, width: int = 160, supersample: int = 2, shadows: bool = True):
    """(rgb float32 [H, W, 3] in [0, 1], depth float32 [H, W] metres) of ``scene``.

    With ``supersample`` s > 1 each pixel averages s x s rays (anti-aliasing); the depth is
    averaged the same way, so at object edges it mixes the two surfaces like the colour does.
    """
    hs, ws = height * supersample, width * supersample
    D = camera_rays(scene, height, width, supersample).reshape(-1, 3).astype(np.float32)
    O = np.array([0.0, scene.camera_height, 0.0], np.float32)
    n_rays = D.shape[0]

    t_best, axis, face = _room_t(O, D, scene)
    owner = np.full(n_rays, -1, np.int32)  # -1: room
    surfaces = []
    for k, prim in enumerate(scene.objects):
        t, surf = _INTERSECT[prim.kind](O, D, prim)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        owner[closer] = k
        surfaces.append(surf)

    P = O + t_best[:, None] * D
    normal = np.zeros_like(D)
    albedo = np.zeros_like(D)
    room = np.nonzero(owner < 0)[0]
    if room.size:
        ax = axis[room]
        n = np.zeros((room.size, 3), np.float32)
        n[np.arange(room.size), ax] = -np.sign(D[room, ax])
        normal[room] = n
        Pr = P[room]
        fr = face[room]
        for f in range(6):
            sel = np.nonzero(fr == f)[0]
            if sel.size:
                a = f // 2
                u = Pr[sel, 2] if a == 0 else Pr[sel, 0]
                v = Pr[sel, 2] if a == 1 else Pr[sel, 1]
                albedo[room[sel]] = _sample_texture(scene.room_materials[f], u, v)
    for k, prim in enumerate(scene.objects):
        idx = np.nonzero(owner == k)[0]
        if idx.size:
            n, u, v = surfaces[k](idx, t_best[idx])
            normal[idx] = n
            albedo[idx] = _sample_texture(prim.material, u, v)

    # Lambertian shading from the point light, with shadows from the objects
    L = np.asarray(scene.light, np.float32) - P
    dist = np.linalg.norm(L, axis=1)
    L = L / np.maximum(dist, 1e-6)[:, None]
    normal = np.where(((normal * D).sum(axis=1) > 0)[:, None], -normal, normal)  # face the camera
    lambert = np.clip((normal * L).sum(axis=1), 0, None)
    if shadows and scene.objects:
        lit = lambert > 0
        idx = np.nonzero(lit)[0]
        Ps = P[idx] + 1e-3 * normal[idx]
        Ls = (L * dist[:, None])[idx]
        blocked = np.zeros(idx.size, bool)
        for k, prim in enumerate(scene.objects):
            t, _ = _INTERSECT[prim.kind](Ps, Ls, prim)
            blocked |= (t > 1e-4) & (t < 1.0)
        lambert[idx[blocked]] = 0.0
    falloff = 1.0 / (1.0 + (dist / 4.0) ** 2)
    shade = scene.ambient + scene.light_power * 1.6 * lambert * falloff
    rgb = np.clip(albedo * shade[:, None], 0.0, 1.0)

    rgb = rgb.reshape(hs, ws, 3)
    depth = t_best.reshape(hs, ws)
    if supersample > 1:
        s = supersample
        rgb = rgb.reshape(height, s, width, s, 3).mean(axis=(1, 3))
        depth = depth.reshape(height, s, width, s).mean(axis=(1, 3))
    return rgb.astype(np.float32), depth.astype(np.float32)


def render_scene(seed: int, height: int = 128, width: int = 160, supersample: int = 2, **overrides):
    """Render the random scene of ``seed``: (rgb float32 [H, W, 3] in [0, 1], depth [H, W] m).

    ``overrides`` replace fields of the sampled ``Scene`` (see ``sample_scene``).
    """
    return render(sample_scene(seed, **overrides), height, width, supersample=supersample)


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------
def save_pair(rgb: np.ndarray, depth: np.ndarray, out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write ``name.png`` (8-bit RGB) and ``name_depth.png`` (16-bit, millimetres)."""
    from PIL import Image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rgb8 = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    mm = np.clip(np.round(depth * 1000.0), 0, 65535).astype(np.uint16)
    p_rgb, p_depth = out_dir / f"{name}.png", out_dir / f"{name}_depth.png"
    Image.fromarray(rgb8, mode="RGB").save(p_rgb)
    Image.fromarray(mm).save(p_depth)  # uint16 -> mode I;16
    return p_rgb, p_depth


def load_pair(path_rgb: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``name.png`` + ``name_depth.png``: (rgb float32 [H, W, 3] in [0, 1], depth metres)."""
    from PIL import Image

    path_rgb = Path(path_rgb)
    rgb = np.asarray(Image.open(path_rgb).convert("RGB"), np.float32) / 255.0
    depth_path = path_rgb.with_name(path_rgb.stem + "_depth.png")
    depth = np.asarray(Image.open(depth_path), dtype=np.float32) / 1000.0
    return rgb, depth


def list_pairs(folder: str | Path) -> list[Path]:
    """RGB files in ``folder`` that have a ``*_depth.png`` partner, sorted by name."""
    folder = Path(folder)
    return sorted(
        p for p in folder.glob("*.png") if not p.stem.endswith("_depth") and p.with_name(p.stem + "_depth.png").exists()
    )


def _render_one(job):
    seed, height, width, out_dir, prefix, supersample = job
    rgb, depth = render_scene(seed, height, width, supersample=supersample)
    save_pair(rgb, depth, out_dir, f"{prefix}{seed:06d}")
    return seed


def write_scenes(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    height: int = 128,
    width: int = 160,
    prefix: str = "scene_",
    supersample: int = 2,
    workers: int = 1,
    progress: bool = False,
) -> list[Path]:
    """Render scenes with seeds ``seed, ..., seed + n - 1`` into ``out_dir`` as
    ``{prefix}{seed:06d}.png`` + ``{prefix}{seed:06d}_depth.png``; returns the RGB paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(seed + i, height, width, str(out_dir), prefix, supersample) for i in range(n)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc="scenes", unit="scene")
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_one, jobs, chunksize=8):
                if bar:
                    bar.update()
    else:
        for job in jobs:
            _render_one(job)
            if bar:
                bar.update()
    if bar:
        bar.close()
    return [out_dir / f"{prefix}{seed + i:06d}.png" for i in range(n)]


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, required=True, help="number of scenes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first scene (scene i uses seed+i)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--prefix", default="scene_", help="file name prefix")
    parser.add_argument("--supersample", type=int, default=2, help="rays per pixel side (anti-aliasing)")
    parser.add_argument("--workers", type=int, default=1, help="processes")


def run(args: argparse.Namespace) -> int:
    from uqcore.errors import InputError

    if args.n < 1:
        raise InputError("--n must be at least 1")
    if args.height < 8 or args.width < 8:
        raise InputError("--height and --width must be at least 8 pixels")
    paths = write_scenes(
        args.out,
        args.n,
        args.seed,
        args.height,
        args.width,
        prefix=args.prefix,
        supersample=args.supersample,
        workers=args.workers,
        progress=True,
    )
    print(f"wrote {len(paths)} scenes (seeds {args.seed}..{args.seed + args.n - 1}) to {args.out}")
    return 0
