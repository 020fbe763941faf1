"""The ray caster: camera, textures, ray-primitive intersections, shading.

Vectorised numpy: every pixel takes the nearest hit over the room and all primitives (so objects
occlude each other and the room); surfaces are textured with crops of the ``TEXTURES`` images
and shaded with a Lambertian point light plus ambient light, with hard shadows cast by the
objects. Depth is the z-depth along the optical axis in metres.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from uqcore.scenes.room import TEXTURES, Material, Primitive, Scene, sample_scene

# NYU Depth v2 colour camera at 640x480.
NYU_INTRINSICS = {"fx": 518.8, "fy": 519.5, "cx": 325.6, "cy": 253.7, "width": 640, "height": 480}

_EPS = 1e-4


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
# textures
# ------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _textures() -> list[np.ndarray]:
    """The texture images as float32 [H, W, 3] in [0, 1] (grey images replicated)."""
    import skimage.data  # lazy: scikit-image loads slowly and only rendering needs it

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

