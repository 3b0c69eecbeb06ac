"""Mesh export (§4 "mesh extraction": marching cubes on the density, the BRDF queried at the surface).

The density is sampled on a res^3 grid over [-bound, bound]^3; scikit-image's marching cubes extracts the
level set sigma = `level`; each vertex gets the basecolour, roughness and metallic decoded at it (image 0's
diffuse embedding). Written as Wavefront OBJ (vertex colours as the common "v x y z r g b" extension) or
ASCII PLY (with roughness and metallic as extra vertex properties); both open in MeshLab and Blender.
The paper also UV-unwraps in Blender and bakes textures: not done here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from paperzoo.core.atomic import atomic_path
from paperzoo.core.errors import InputError
from paperzoo.shinobi.field import Field


@torch.no_grad()
def extract(field: Field, resolution: int = 96, level: float = 10.0, bound: float = 1.0,
            chunk: int = 65536) -> dict[str, np.ndarray]:
    """vertices (V, 3), faces (F, 3), basecolour (V, 3), roughness (V,), metallic (V,)."""
    from skimage.measure import marching_cubes

    axis = torch.linspace(-bound, bound, resolution)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    field.encoding.progress = 1.0
    sigma = torch.cat([torch.nn.functional.softplus(field.geometry(grid[i:i + chunk])[1])
                       for i in range(0, len(grid), chunk)]).reshape(resolution, resolution, resolution).numpy()
    if not sigma.min() < level < sigma.max():
        raise InputError(f"export-mesh: the density ranges {sigma.min():.3g} .. {sigma.max():.3g}, so level "
                         f"{level} has no surface; pass --level inside that range")
    spacing = (2 * bound / (resolution - 1),) * 3
    verts, faces, _, _ = marching_cubes(sigma, level=level, spacing=spacing)
    verts = verts - bound
    x = torch.tensor(verts, dtype=torch.float32)
    h = field.trunk(field.encoding(x))
    base, metal, rough = field.decode(field.brdf_embed(h), torch.zeros(len(x), dtype=torch.long))
    return {"vertices": verts.astype(np.float32), "faces": faces.astype(np.int64), "basecolour": base.numpy(),
            "roughness": rough.numpy(), "metallic": metal.numpy()}


def write_mesh(mesh: dict[str, np.ndarray], path: str | Path) -> Path:
    """OBJ or PLY by the suffix; written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".obj", ".ply"):
        raise InputError(f"export-mesh: {path.name}: the suffix must be .obj or .ply")
    v, f, c = mesh["vertices"], mesh["faces"], mesh["basecolour"]
    lines: list[str] = []
    if suffix == ".obj":
        lines += [f"v {a:.6f} {b:.6f} {d:.6f} {r:.4f} {g:.4f} {bl:.4f}" for (a, b, d), (r, g, bl) in zip(v, c)]
        lines += [f"f {i + 1} {j + 1} {k + 1}" for i, j, k in f]
    else:
        rgb = (np.clip(c, 0, 1) * 255).round().astype(int)
        lines += ["ply", "format ascii 1.0", f"element vertex {len(v)}", "property float x", "property float y",
                  "property float z", "property uchar red", "property uchar green", "property uchar blue",
                  "property float roughness", "property float metallic", f"element face {len(f)}",
                  "property list uchar int vertex_indices", "end_header"]
        lines += [f"{a:.6f} {b:.6f} {d:.6f} {r} {g} {bl} {ro:.4f} {me:.4f}"
                  for (a, b, d), (r, g, bl), ro, me in zip(v, rgb, mesh["roughness"], mesh["metallic"])]
        lines += [f"3 {i} {j} {k}" for i, j, k in f]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return path
