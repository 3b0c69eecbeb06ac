"""Environment maps for relighting: read an equirectangular HDR (Radiance .hdr) or LDR image (PNG, JPEG)
and fit K spherical Gaussians to it, so the model can be shaded under it (`relight`).

Equirectangular layout: width = 2 x height; row i is the elevation from +90 (top) to -90 degrees, column j
the azimuth phi = atan2(x, z) from -180 to 180 degrees, so the map's centre column looks along +z and its
top row along +y (the world's up). LDR images are taken as sRGB and linearised; .hdr files are linear.
The fit minimises the solid-angle-weighted squared error over a 32 x 64 version of the map (Adam).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from paperzoo.core.errors import InputError
from paperzoo.shinobi.illumination import SHARPNESS_RANGE, fibonacci_axes
from paperzoo.world.objects3d import SGLight, sg_radiance


def read_hdr(path: Path) -> np.ndarray:
    """A Radiance RGBE (.hdr) file as float32 (H, W, 3), flat or run-length encoded scanlines."""
    data = Path(path).read_bytes()
    if not (data.startswith(b"#?RADIANCE") or data.startswith(b"#?RGBE")):
        raise InputError(f"envmap {path}: not a Radiance .hdr file (no #?RADIANCE header)")
    end = data.find(b"\n\n")
    if end < 0:
        raise InputError(f"envmap {path}: truncated header")
    header = data[:end].decode("ascii", "replace")
    if "FORMAT=32-bit_rle_rgbe" not in header and "FORMAT" in header:
        raise InputError(f"envmap {path}: only 32-bit_rle_rgbe is read")
    line_end = data.find(b"\n", end + 2)
    m = re.match(r"-Y (\d+) \+X (\d+)", data[end + 2:line_end].decode("ascii", "replace"))
    if not m:
        raise InputError(f"envmap {path}: unsupported resolution line (only -Y H +X W)")
    h, w = int(m.group(1)), int(m.group(2))
    buf, pos = memoryview(data), line_end + 1
    rgbe = np.zeros((h, w, 4), dtype=np.uint8)
    try:
        for row in range(h):
            if w >= 8 and w < 32768 and buf[pos] == 2 and buf[pos + 1] == 2 and (buf[pos + 2] << 8 | buf[pos + 3]) == w:
                pos += 4
                for ch in range(4):
                    col = 0
                    while col < w:
                        count = buf[pos]
                        pos += 1
                        if count > 128:
                            count -= 128
                            rgbe[row, col:col + count, ch] = buf[pos]
                            pos += 1
                        else:
                            rgbe[row, col:col + count, ch] = np.frombuffer(buf[pos:pos + count], dtype=np.uint8)
                            pos += count
                        col += count
            else:
                rgbe[row] = np.frombuffer(buf[pos:pos + 4 * w], dtype=np.uint8).reshape(w, 4)
                pos += 4 * w
    except (IndexError, ValueError) as e:
        raise InputError(f"envmap {path}: truncated or corrupt pixel data ({e})") from None
    e = rgbe[..., 3].astype(np.int32)
    scale = np.where(e > 0, np.ldexp(1.0, e - 136), 0.0)
    return (rgbe[..., :3] * scale[..., None]).astype(np.float32)


def write_hdr(path: Path, image: np.ndarray) -> None:
    """Write linear float (H, W, 3) as a flat (not run-length encoded) Radiance RGBE file."""
    image = np.asarray(image, dtype=np.float64).clip(0, None)
    h, w = image.shape[:2]
    peak = image.max(-1)
    mantissa, exponent = np.frexp(peak)
    scale = np.where(peak > 1e-32, mantissa * 256.0 / np.where(peak > 1e-32, peak, 1), 0)
    rgbe = np.zeros((h, w, 4), dtype=np.uint8)
    rgbe[..., :3] = (image * scale[..., None]).clip(0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(peak > 1e-32, exponent + 128, 0).astype(np.uint8)
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {h} +X {w}\n".encode()
    Path(path).write_bytes(header + rgbe.tobytes())


def read_envmap(path: str | Path) -> np.ndarray:
    """Linear radiance (H, W, 3) of an equirectangular map; one clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"envmap {path}: no such file")
    if path.suffix.lower() == ".hdr":
        env = read_hdr(path)
    else:
        try:
            with Image.open(path) as im:
                srgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255
        except (UnidentifiedImageError, OSError) as e:
            raise InputError(f"envmap {path}: cannot read it as an image ({e})") from None
        env = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)
    h, w = env.shape[:2]
    if w != 2 * h:
        raise InputError(f"envmap {path}: {w}x{h} is not equirectangular (width must be twice the height)")
    return env


def equirect_directions(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit directions (h, w, 3) of pixel centres and their solid angles (h, w)."""
    elev = math.pi / 2 - (torch.arange(h, dtype=torch.float64) + 0.5) / h * math.pi
    phi = -math.pi + (torch.arange(w, dtype=torch.float64) + 0.5) / w * 2 * math.pi
    el, ph = torch.meshgrid(elev, phi, indexing="ij")
    dirs = torch.stack([torch.cos(el) * torch.sin(ph), torch.sin(el), torch.cos(el) * torch.cos(ph)], -1)
    solid = torch.cos(el) * (math.pi / h) * (2 * math.pi / w)
    return dirs, solid


def fit_sg(env: np.ndarray, lobes: int, steps: int = 600, seed: int = 0) -> SGLight:
    """K spherical Gaussians (sharpness in the model's range) fitted to an equirectangular map."""
    target = torch.tensor(env, dtype=torch.float64).permute(2, 0, 1)[None]
    target = F.interpolate(target, size=(32, 64), mode="area")[0].permute(1, 2, 0)
    dirs, solid = equirect_directions(32, 64)
    lo, hi = SHARPNESS_RANGE
    torch.manual_seed(seed)
    axes = torch.nn.Parameter(fibonacci_axes(lobes).double())
    sharp = torch.nn.Parameter(torch.zeros(lobes, dtype=torch.float64))
    mean = float((target * solid[..., None]).sum() / solid.sum() / 3)
    amp = torch.nn.Parameter(torch.full((lobes, 3), math.log(math.expm1(max(mean, 1e-3))), dtype=torch.float64))
    opt = torch.optim.Adam([axes, sharp, amp], lr=0.05)
    for _ in range(steps):
        light = (F.normalize(axes, dim=-1), lo + (hi - lo) * torch.sigmoid(sharp), F.softplus(amp))
        loss = (((sg_radiance(dirs, *light) - target) ** 2).sum(-1) * solid).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return SGLight(F.normalize(axes, dim=-1), lo + (hi - lo) * torch.sigmoid(sharp), F.softplus(amp))


def render_envmap(light: SGLight, h: int = 64) -> np.ndarray:
    """An SG environment as an equirectangular map (h, 2h, 3), for looking at a fit."""
    dirs, _ = equirect_directions(h, 2 * h)
    return light.radiance(dirs).numpy().astype(np.float32)
