"""3D objects photographed in the wild: SHINOBI's world.

One analytic object, seen in many photographs that share nothing but the object:

- **shape**: a smooth union of an ellipsoid body and two or three attachments (a rounded box,
  a torus, a capsule), placed and turned at random, so the object has no symmetry that would
  hide its pose; it fits inside the unit sphere (the paper normalises objects to it);
- **material**: a dielectric (metallic 0, F0 = 0.04) whose basecolour and roughness vary over
  the surface, two colours mixed by a stripe pattern and a roughness in [0.4, 0.9] with its own;
- **illumination**: every photograph has its own environment of spherical Gaussians,
  L(w) = sum_k mu_k exp(lambda_k (w . xi_k - 1)) (the NeRD form SHINOBI's "sg" flag uses): a broad
  sky-like lobe and sharper ones in random colours;
- **camera**: a pinhole looking at the object from its own direction (azimuth over the full
  circle, elevation -10 to 50 degrees), distance 3 and field of view 53.13 degrees (the paper's
  initial guess), each jittered by +-10%, a look-at point off the centre by up to 0.05 and a roll
  of up to 5 degrees;
- **background**: a vertical gradient between two random colours, different in every photograph,
  and the object's mask.

Rendering is the rendering equation without shadows or inter-reflections (SHINOBI's own
model has neither): rays are sphere-traced against the signed distance function, and the
outgoing radiance at a hit point is

    c = sum_q f_r(w_q, v) L(w_q) max(n . w_q, 0) * 4 pi / Q

over a fixed Fibonacci sphere of Q directions, with the Cook-Torrance BRDF
f_r = (1 - F) basecolour / pi + D G F / (4 (n . v)(n . w)): GGX D with alpha = roughness^2,
Smith-Schlick G with k = (roughness + 1)^2 / 8 and Schlick F. Colours are linear and clipped to
[0, 1]. Quadrature, rather than a closed-form split sum, keeps the world's renderer from being
the model's own approximation; `render_reference` is the slow per-pixel version it is tested
against (dense ray stepping with bisection instead of sphere tracing; a plain loop over the
directions).

Camera convention: camera-to-world rotation R with columns (right, up, back); the camera looks
along -back; pixel (i, j) (row, column) has its ray through (j + 0.5 - W/2, -(i + 0.5 - H/2), -f)
in camera coordinates. `octant` gives the three binary answers (left/right, up/down,
front/back) SHINOBI's coarse initialisation starts from.

A pure function of (config, seed): the object, the photographs and a held-out environment
for relighting come from their own random streams.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import torch
from torch import Tensor

from paperzoo.core.errors import ConfigError

OBJECTS3D_VERSION = 1
_DOMAIN = 0x5EED_3D0B  # separates these streams from the other worlds' streams of the same seed
F0_DIELECTRIC = 0.04
BOUND = 1.0  # the object lies inside the sphere of this radius


@dataclass(frozen=True)
class ObjectConfig:
    image_size: int = 40
    train_views: int = 24
    test_views: int = 8
    lobes: int = 6  # spherical Gaussians per environment
    fov_deg: float = 53.13
    distance: float = 2.5
    jitter: float = 0.1  # relative jitter of the distance and the focal length
    elevation_deg: tuple[float, float] = (-10.0, 50.0)
    roll_deg: float = 5.0
    attachments: tuple[int, int] = (2, 3)
    quadrature: int = 2048  # directions Q of the shading integral

    def __post_init__(self):
        if self.image_size < 4:
            raise ConfigError(f"image_size: {self.image_size}; at least 4")
        if self.train_views < 1 or self.test_views < 0:
            raise ConfigError(f"views: train {self.train_views}, test {self.test_views}; need train >= 1, test >= 0")
        if self.lobes < 1 or self.quadrature < 16:
            raise ConfigError(f"lobes {self.lobes} / quadrature {self.quadrature}: need >= 1 / >= 16")


# ---------------------------------------------------------------------------- illumination


@dataclass(frozen=True)
class SGLight:
    """An environment of K spherical Gaussians: axes xi (K, 3) unit, sharpness lambda (K,), amplitude mu (K, 3)."""

    axes: Tensor
    sharpness: Tensor
    amplitudes: Tensor

    def radiance(self, dirs: Tensor) -> Tensor:
        """L(w) for unit directions (..., 3) -> (..., 3)."""
        return sg_radiance(dirs, self.axes, self.sharpness, self.amplitudes)

    def to(self, dtype: torch.dtype) -> "SGLight":
        return SGLight(self.axes.to(dtype), self.sharpness.to(dtype), self.amplitudes.to(dtype))


def sg_radiance(dirs: Tensor, axes: Tensor, sharpness: Tensor, amplitudes: Tensor) -> Tensor:
    """sum_k mu_k exp(lambda_k (w . xi_k - 1)) for dirs (..., 3): (..., 3)."""
    cos = dirs @ axes.T  # (..., K)
    return torch.exp(sharpness * (cos - 1)) @ amplitudes


def random_light(rng: np.random.Generator, lobes: int) -> SGLight:
    """A sky-like broad lobe from above (sharpness 2-3) plus lobes - 1 sharper ones (4-30) in random directions
    and colours; sharpness stays >= 2, where SHINOBI's SG shading is accurate (`paperzoo.shinobi.illumination`)."""
    axes = rng.normal(size=(lobes, 3))
    axes[0] = [0.0, 1.0, 0.0] + 0.3 * rng.normal(size=3)
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    sharpness = np.concatenate([[rng.uniform(2.0, 3.0)], rng.uniform(4.0, 30.0, lobes - 1)])
    tint = rng.uniform(0.6, 1.0, size=(lobes, 3))
    power = np.concatenate([[rng.uniform(1.0, 1.6)], rng.uniform(0.5, 2.0, lobes - 1) * sharpness[1:] / 8])
    amplitudes = tint * power[:, None]
    return SGLight(*(torch.tensor(a, dtype=torch.float64) for a in (axes, sharpness, amplitudes)))


def fibonacci_sphere(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """n near-uniform unit directions (n, 3); each stands for a solid angle of 4 pi / n."""
    i = torch.arange(n, dtype=dtype) + 0.5
    y = 1 - 2 * i / n
    r = torch.sqrt(1 - y * y)
    phi = math.pi * (3 - math.sqrt(5)) * i
    return torch.stack([r * torch.cos(phi), y, r * torch.sin(phi)], -1)


# ---------------------------------------------------------------------------- shading


def shade(normal: Tensor, view: Tensor, basecolour: Tensor, roughness: Tensor, light: SGLight, dirs: Tensor,
          specular: bool = True) -> Tensor:
    """Outgoing radiance (P, 3) of P surface points: normal, view (towards the camera) (P, 3) unit,
    basecolour (P, 3), roughness (P,); the rendering equation summed over `dirs` (Q, 3).
    specular=False: the Lambertian BRDF basecolour / pi alone (under a constant environment L it returns
    basecolour * L, a known case the tests use)."""
    weight = 4 * math.pi / dirs.shape[0]
    incoming = light.radiance(dirs)  # (Q, 3)
    n_w = (normal @ dirs.T).clamp_min(0)  # (P, Q)
    if not specular:
        return basecolour / math.pi * (n_w @ incoming) * weight
    n_v = (normal * view).sum(-1, keepdim=True).clamp_min(1e-4)  # (P, 1)
    h = view[:, None, :] + dirs[None]  # (P, Q, 3)
    h = h / h.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    n_h = (normal[:, None, :] * h).sum(-1).clamp_min(0)
    v_h = (view[:, None, :] * h).sum(-1).clamp_min(0)
    fresnel = F0_DIELECTRIC + (1 - F0_DIELECTRIC) * (1 - v_h) ** 5  # (P, Q)
    alpha2 = (roughness**4)[:, None]  # alpha = roughness^2
    d = alpha2 / (math.pi * (n_h**2 * (alpha2 - 1) + 1) ** 2)
    k = ((roughness + 1) ** 2 / 8)[:, None]
    g = (n_v / (n_v * (1 - k) + k)) * (n_w / (n_w * (1 - k) + k))
    spec = d * g * fresnel / (4 * n_v * n_w.clamp_min(1e-4))  # (P, Q)
    diffuse = (1 - fresnel)[..., None] * basecolour[:, None, :] / math.pi  # (P, Q, 3)
    brdf = diffuse + spec[..., None]
    return (brdf * incoming[None] * n_w[..., None]).sum(1) * weight


# ---------------------------------------------------------------------------- the object


def _smin(a: Tensor, b: Tensor, k: float = 0.08) -> Tensor:
    """Polynomial smooth minimum (never above min(a, b), so sphere tracing stays safe)."""
    h = (0.5 + 0.5 * (b - a) / k).clamp(0, 1)
    return b * (1 - h) + a * h - k * h * (1 - h)


@dataclass(frozen=True)
class Primitive:
    kind: str  # "ellipsoid" | "box" | "torus" | "capsule"
    centre: tuple[float, float, float]
    rotation: tuple[tuple[float, ...], ...]  # world -> local, 3x3
    size: tuple[float, ...]

    @cached_property
    def _tensors(self) -> tuple[Tensor, Tensor, Tensor]:
        return (torch.tensor(self.centre, dtype=torch.float64), torch.tensor(self.rotation, dtype=torch.float64),
                torch.tensor(self.size, dtype=torch.float64))

    def sdf(self, x: Tensor) -> Tensor:
        c, rot, size = (v.to(x.dtype) for v in self._tensors)
        p = (x - c) @ rot.T
        s = self.size
        if self.kind == "ellipsoid":
            r = size
            k0 = (p / r).norm(dim=-1)
            k1 = (p / (r * r)).norm(dim=-1).clamp_min(1e-9)
            return k0 * (k0 - 1) / k1
        if self.kind == "box":  # half extents s[:3], rounding s[3]
            q = p.abs() - size[:3]
            return q.clamp_min(0).norm(dim=-1) + q.max(-1).values.clamp_max(0) - s[3]
        if self.kind == "torus":  # major radius s[0], minor s[1], in the local xz plane
            q = torch.stack([p[..., [0, 2]].norm(dim=-1) - s[0], p[..., 1]], -1)
            return q.norm(dim=-1) - s[1]
        if self.kind == "capsule":  # half length s[0] along local y, radius s[1]
            q = p.clone()
            q[..., 1] = q[..., 1] - q[..., 1].clamp(-s[0], s[0])
            return q.norm(dim=-1) - s[1]
        raise ConfigError(f"primitive kind: {self.kind!r}")


@dataclass(frozen=True)
class Object3D:
    primitives: tuple[Primitive, ...]
    colours: tuple[tuple[float, float, float], tuple[float, float, float]]
    pattern: tuple[tuple[float, float, float], float, float]  # stripe direction * frequency, phase, sharpness
    roughness_range: tuple[float, float]
    roughness_pattern: tuple[tuple[float, float, float], float]

    def sdf(self, x: Tensor) -> Tensor:
        d = self.primitives[0].sdf(x)
        for p in self.primitives[1:]:
            d = _smin(d, p.sdf(x))
        return torch.maximum(d, x.norm(dim=-1) - 0.99 * BOUND)  # cut to the bounding sphere (rarely reached)

    def normal(self, x: Tensor, eps: float = 1e-5) -> Tensor:
        """The SDF's normalised central-difference gradient."""
        e = torch.eye(3, dtype=x.dtype) * eps
        g = torch.stack([self.sdf(x + e[i]) - self.sdf(x - e[i]) for i in range(3)], -1)
        return g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def basecolour(self, x: Tensor) -> Tensor:
        k, phase, sharp = self.pattern
        s = torch.sigmoid(sharp * torch.sin(x @ torch.tensor(k, dtype=x.dtype) + phase))[..., None]
        c1, c2 = (torch.tensor(c, dtype=x.dtype) for c in self.colours)
        return c1 * (1 - s) + c2 * s

    def roughness(self, x: Tensor) -> Tensor:
        k, phase = self.roughness_pattern
        lo, hi = self.roughness_range
        return lo + (hi - lo) * torch.sigmoid(4 * torch.sin(x @ torch.tensor(k, dtype=x.dtype) + phase))


def _rotation(rng: np.random.Generator) -> tuple[tuple[float, ...], ...]:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return tuple(tuple(float(v) for v in row) for row in q)


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.4, 0.8), rng.uniform(0.5, 0.9)))


def make_object(config: ObjectConfig, rng: np.random.Generator) -> Object3D:
    radii = rng.uniform(0.45, 0.65, 3)
    prims = [Primitive("ellipsoid", (0.0, 0.0, 0.0), _rotation(rng), tuple(float(r) for r in radii))]
    for _ in range(rng.integers(config.attachments[0], config.attachments[1] + 1)):
        kind = ("box", "torus", "capsule")[rng.integers(3)]
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        centre = tuple(float(v) for v in d * rng.uniform(0.5, 0.6))
        size = {"box": (*rng.uniform(0.12, 0.22, 3), 0.03), "torus": (rng.uniform(0.2, 0.28), rng.uniform(0.06, 0.09)),
                "capsule": (rng.uniform(0.15, 0.25), rng.uniform(0.08, 0.12))}[kind]
        prims.append(Primitive(kind, centre, _rotation(rng), tuple(float(s) for s in size)))
    k = rng.normal(size=3)
    k = k / np.linalg.norm(k) * rng.uniform(8, 14)
    kr = rng.normal(size=3)
    kr = kr / np.linalg.norm(kr) * rng.uniform(4, 8)
    return Object3D(tuple(prims), (_colour(rng), _colour(rng)),
                    (tuple(float(v) for v in k), float(rng.uniform(0, 2 * math.pi)), 6.0),
                    (0.4, 0.9), (tuple(float(v) for v in kr), float(rng.uniform(0, 2 * math.pi))))


# ---------------------------------------------------------------------------- cameras


@dataclass(frozen=True)
class Camera:
    """A pinhole: camera-to-world rotation (3, 3) with columns (right, up, back), position (3,), focal length in
    pixels, image size (H, W)."""

    rotation: Tensor
    position: Tensor
    focal: float
    size: tuple[int, int]

    def rays(self, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
        """Origins and unit directions (H, W, 3) of every pixel's ray, in world coordinates."""
        return pixel_rays(self.rotation.to(dtype), self.position.to(dtype), torch.tensor(self.focal, dtype=dtype),
                          self.size)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """World points (..., 3) -> pixel coordinates (..., 2) as (column, row) continuous, and depth along -back."""
        local = (x - self.position.to(x.dtype)) @ self.rotation.to(x.dtype)  # (..., 3): right, up, back
        depth = -local[..., 2]
        h, w = self.size
        col = self.focal * local[..., 0] / depth + w / 2
        row = -self.focal * local[..., 1] / depth + h / 2
        return torch.stack([col, row], -1), depth


def pixel_rays(rotation: Tensor, position: Tensor, focal: Tensor, size: tuple[int, int],
               pixels: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Rays through pixel centres (all of them, (H, W, 3); or `pixels` (..., 2) as (row, column) floats, (..., 3)).
    Differentiable in rotation, position and focal (SHINOBI optimises all three)."""
    h, w = size
    if pixels is None:
        rows, cols = torch.meshgrid(torch.arange(h, dtype=rotation.dtype) + 0.5,
                                    torch.arange(w, dtype=rotation.dtype) + 0.5, indexing="ij")
    else:
        rows, cols = pixels[..., 0], pixels[..., 1]
    local = torch.stack([(cols - w / 2) / focal, -(rows - h / 2) / focal, -torch.ones_like(rows)], -1)
    dirs = local @ rotation.T
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    return position.expand_as(dirs), dirs


def look_at(position: Tensor, target: Tensor, roll: float = 0.0) -> Tensor:
    """The camera-to-world rotation of a camera at `position` looking at `target`, turned by `roll` radians."""
    return camera_frame(position - target, torch.as_tensor(roll, dtype=position.dtype))


def camera_frame(back: Tensor, roll: Tensor) -> Tensor:
    """Rotations (..., 3, 3) with columns (right, up, back) from back directions (..., 3) (from the look-at
    point to the eye) and roll angles (...): right = normalize(y x back), up = back x right, then both turned
    by the roll about back. Differentiable (SHINOBI's cameras are built with it)."""
    back = back / back.norm(dim=-1, keepdim=True)
    world_up = torch.zeros_like(back)
    world_up[..., 1] = 1
    # straight above or below the object y x back vanishes: there the reference is -z or +z instead (as
    # SAMURAI's look-at does), so the frame stays finite (a camera's roll is relative to its reference)
    steep = back[..., 1].abs() > 0.999
    if steep.any():
        world_up = world_up.clone()
        world_up[steep] = 0
        world_up[steep, 2] = -torch.sign(back[steep, 1])
    right = torch.linalg.cross(world_up, back, dim=-1)
    right = right / right.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    up = torch.linalg.cross(back, right, dim=-1)
    c, s = torch.cos(roll)[..., None], torch.sin(roll)[..., None]
    right, up = c * right + s * up, -s * right + c * up
    return torch.stack([right, up, back], -1)


def octant(position: Tensor) -> tuple[bool, bool, bool]:
    """SHINOBI's coarse pose annotation: is the camera right of (x > 0), above (y > 0), in front of (z > 0) the object."""
    return bool(position[0] > 0), bool(position[1] > 0), bool(position[2] > 0)


def random_camera(config: ObjectConfig, rng: np.random.Generator, azimuth: float) -> Camera:
    elevation = math.radians(rng.uniform(*config.elevation_deg))
    distance = config.distance * (1 + rng.uniform(-config.jitter, config.jitter))
    direction = torch.tensor([math.cos(elevation) * math.sin(azimuth), math.sin(elevation),
                              math.cos(elevation) * math.cos(azimuth)], dtype=torch.float64)
    target = torch.tensor(rng.uniform(-0.05, 0.05, 3), dtype=torch.float64)
    position = target + distance * direction
    roll = math.radians(rng.uniform(-config.roll_deg, config.roll_deg))
    fov = math.radians(config.fov_deg) * (1 + rng.uniform(-config.jitter, config.jitter))
    focal = config.image_size / 2 / math.tan(fov / 2)
    return Camera(look_at(position, target, roll), position, focal, (config.image_size, config.image_size))


# ---------------------------------------------------------------------------- rendering


@dataclass
class View:
    """One photograph and its ground truth; arrays are float32 numpy, (H, W, 3) or (H, W)."""

    image: np.ndarray  # the photograph: object over the background
    mask: np.ndarray  # 1 on the object
    camera: Camera
    light: SGLight
    radiance: np.ndarray  # the object's shaded colour, 0 off it
    basecolour: np.ndarray
    roughness: np.ndarray
    normal: np.ndarray
    depth: np.ndarray  # distance along the ray, 0 off the object
    background: np.ndarray


def _sphere_bounds(origins: Tensor, dirs: Tensor, radius: float = BOUND) -> tuple[Tensor, Tensor, Tensor]:
    """Entry and exit distances of rays through the bounding sphere, and whether they meet it."""
    b = (origins * dirs).sum(-1)
    c = (origins * origins).sum(-1) - radius**2
    disc = b * b - c
    hit = disc > 0
    root = disc.clamp_min(0).sqrt()
    return (-b - root).clamp_min(0), -b + root, hit


def intersect(obj: Object3D, origins: Tensor, dirs: Tensor, steps: int = 128, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """Sphere tracing: the distance t (R,) to the first surface hit and whether there is one."""
    t0, t1, meets = _sphere_bounds(origins, dirs)
    t = t0.clone()
    active = meets.clone()
    hit = torch.zeros_like(meets)
    for _ in range(steps):
        if not active.any():
            break
        d = obj.sdf(origins[active] + t[active, None] * dirs[active])
        idx = active.nonzero().squeeze(-1)
        t[idx] = t[idx] + 0.9 * d
        done = d < eps
        hit[idx[done]] = True
        gone = t[idx] > t1[idx]
        active[idx[done | gone]] = False
    return t, hit & (t <= t1)


def gradient_background(size: int, rng: np.random.Generator) -> np.ndarray:
    top, bottom = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)
    s = np.linspace(0, 1, size)[:, None, None]
    return np.broadcast_to(top * (1 - s) + bottom * s, (size, size, 3)).astype(np.float32)


def render(obj: Object3D, camera: Camera, light: SGLight, background: np.ndarray, quadrature: int = 2048) -> View:
    """Render one photograph (vectorised over pixels; see the module docstring)."""
    origins, dirs = camera.rays()
    h, w = camera.size
    origins, dirs = origins.reshape(-1, 3), dirs.reshape(-1, 3)
    t, hit = intersect(obj, origins, dirs)
    x = origins[hit] + t[hit, None] * dirs[hit]
    n = obj.normal(x)
    base, rough = obj.basecolour(x), obj.roughness(x)
    sphere = fibonacci_sphere(quadrature)
    colour = torch.cat([shade(n[i:i + 256], -dirs[hit][i:i + 256], base[i:i + 256], rough[i:i + 256], light, sphere)
                        for i in range(0, len(x), 256)] or [torch.zeros(0, 3, dtype=torch.float64)]).clamp(0, 1)
    return _assemble(h, w, hit, t, colour, base, rough, n, camera, light, background)


def _assemble(h, w, hit, t, colour, base, rough, n, camera, light, background) -> View:
    def buffer(values: Tensor, channels: int) -> np.ndarray:
        out = torch.zeros(h * w, channels, dtype=torch.float64)
        out[hit] = values.reshape(-1, channels)
        return out.reshape(h, w, channels).squeeze(-1).numpy().astype(np.float32)

    mask = hit.reshape(h, w).numpy().astype(np.float32)
    radiance = buffer(colour, 3)
    image = radiance + (1 - mask[..., None]) * background
    return View(image.astype(np.float32), mask, camera, light, radiance, buffer(base, 3), buffer(rough, 1),
                buffer(n, 3), buffer(t[hit], 1), background)


def render_reference(obj: Object3D, camera: Camera, light: SGLight, background: np.ndarray,
                     quadrature: int = 2048, step: float = 2e-3) -> View:
    """The slow, obviously correct renderer `render` is tested against: each pixel on its own, its ray
    stepped densely until the SDF changes sign and bisected, then a plain loop over the directions."""
    origins, dirs = camera.rays()
    h, w = camera.size
    sphere = fibonacci_sphere(quadrature)
    weight = 4 * math.pi / quadrature
    hits, ts, colours, bases, roughs, normals = [], [], [], [], [], []
    for o, d in zip(origins.reshape(-1, 3), dirs.reshape(-1, 3)):
        t0, t1, meets = _sphere_bounds(o[None], d[None])
        hit_t = None
        if meets[0]:
            ts_ = torch.arange(float(t0[0]), float(t1[0]) + step, step, dtype=torch.float64)
            values = obj.sdf(o + ts_[:, None] * d)
            inside = (values < 0).nonzero()
            if len(inside):
                j = int(inside[0])
                lo, hi = float(ts_[max(j - 1, 0)]), float(ts_[j])
                for _ in range(40):
                    mid = (lo + hi) / 2
                    lo, hi = (lo, mid) if obj.sdf(o + mid * d)[None][0] < 0 else (mid, hi)
                hit_t = hi
        hits.append(hit_t is not None)
        ts.append(hit_t or 0.0)
        if hit_t is None:
            continue
        x = (o + hit_t * d)[None]
        n, base, rough, v = obj.normal(x)[0], obj.basecolour(x)[0], float(obj.roughness(x)[0]), -d
        n_v = max(float(n @ v), 1e-4)
        alpha2, k = rough**4, (rough + 1) ** 2 / 8
        total = torch.zeros(3, dtype=torch.float64)
        for wq in sphere:
            n_w = float(n @ wq)
            if n_w <= 0:
                continue
            hv = (v + wq) / (v + wq).norm()
            n_h, v_h = max(float(n @ hv), 0.0), max(float(v @ hv), 0.0)
            fresnel = F0_DIELECTRIC + (1 - F0_DIELECTRIC) * (1 - v_h) ** 5
            dist = alpha2 / (math.pi * (n_h**2 * (alpha2 - 1) + 1) ** 2)
            geometry = (n_v / (n_v * (1 - k) + k)) * (n_w / (n_w * (1 - k) + k))
            brdf = (1 - fresnel) * base / math.pi + dist * geometry * fresnel / (4 * n_v * max(n_w, 1e-4))
            total += brdf * light.radiance(wq[None])[0] * n_w * weight
        colours.append(total.clamp(0, 1))
        bases.append(base), roughs.append(torch.tensor(rough, dtype=torch.float64)), normals.append(n)
    hit = torch.tensor(hits)
    stack = lambda xs, c: torch.stack(xs) if xs else torch.zeros(0, c, dtype=torch.float64)  # noqa: E731
    return _assemble(h, w, hit, torch.tensor(ts, dtype=torch.float64), stack(colours, 3), stack(bases, 3),
                     stack(roughs, 1).reshape(-1), stack(normals, 3), camera, light, background)


# ---------------------------------------------------------------------------- the collection


@dataclass
class Collection:
    """One object's photographs: `train` and `test` views, each under its own light and background, and
    `relight`: the test cameras under one held-out environment (for the relighting metric)."""

    config: ObjectConfig
    seed: int
    object: Object3D
    train: list[View]
    test: list[View]
    relight_light: SGLight
    relight: list[View] = field(default_factory=list)


@lru_cache(maxsize=4)
def collection(config: ObjectConfig, seed: int) -> Collection:
    """The world's photographs of object `seed`: a pure function of its arguments."""
    rng = lambda *k: np.random.default_rng(np.random.SeedSequence([_DOMAIN, int(seed), *k]))  # noqa: E731
    obj = make_object(config, rng(0))
    n = config.train_views + config.test_views
    views = []
    for i in range(n):
        r = rng(1, i)
        azimuth = 2 * math.pi * (i + r.uniform(-0.3, 0.3)) / n  # spread round the object, test views between
        camera = random_camera(config, r, azimuth)
        views.append(render(obj, camera, random_light(r, config.lobes), gradient_background(config.image_size, r),
                            config.quadrature))
    train = [v for i, v in enumerate(views) if not _is_test(i, config)]
    test = [v for i, v in enumerate(views) if _is_test(i, config)]
    held_out = random_light(rng(2), config.lobes)
    relight = [render(obj, v.camera, held_out, v.background, config.quadrature) for v in test]
    return Collection(config, seed, obj, train, test, held_out, relight)


def _is_test(i: int, config: ObjectConfig) -> bool:
    """Every k-th view is a test view, so test views are spread round the object between training views."""
    n = config.train_views + config.test_views
    if config.test_views == 0:
        return False
    stride = n / config.test_views
    return any(i == int(j * stride + stride / 2) for j in range(config.test_views))


__all__ = [
    "OBJECTS3D_VERSION", "ObjectConfig", "SGLight", "sg_radiance", "random_light", "fibonacci_sphere", "shade",
    "Primitive", "Object3D", "make_object", "Camera", "pixel_rays", "look_at", "camera_frame", "octant", "random_camera", "View",
    "intersect", "render", "render_reference", "Collection", "collection"
]
