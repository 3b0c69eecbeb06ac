"""What a fit consumes: photographs with masks and initial cameras (and, for evaluation, the true ones).

`from_world` turns a `paperzoo.world.objects3d` collection into `Photos`, with the initial cameras of
one of three settings:

- "gt": the true cameras (Table 1's setting, "GT poses"; the cameras are still optimised);
- "perturbed": the true cameras turned about the object by 15-25 degrees (a random axis per view) and
  their eyes moved by 10% of their distance (card §5, init (a));
- "octant": only the three binary answers left/right, above/below, front/back: the eye on the octant's
  diagonal at SAMURAI's distance, looking at the centre, no roll, the 53.13-degree field of view
  (Table 2's "Directions" setting).

Train and test photographs sit in one `Photos` (test ones after the train ones): the test views' cameras,
illumination and embeddings are fitted with the rest of the model frozen (§4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from paperzoo.core.errors import ConfigError
from paperzoo.shinobi.cameras import INITIAL_FOV_DEG, octant_direction, octant_distance, random_rotation, roll_of
from paperzoo.world.objects3d import Collection, View, octant

INITS = ("gt", "perturbed", "octant")


@dataclass
class Photos:
    images: Tensor  # (V, H, W, 3) in [0, 1]
    masks: Tensor  # (V, H, W) in [0, 1]
    eye: Tensor  # (V, 3) initial cameras
    direction: Tensor  # (V, 2) initial (theta, phi) offsets of the viewing direction from the eye's
    roll: Tensor  # (V,)
    focal: Tensor  # (V,) pixels
    train: int  # the first `train` photographs are the training ones
    true_rotation: Tensor | None = None  # (V, 3, 3) ground truth, where known
    true_eye: Tensor | None = None
    true_focal: Tensor | None = None

    @property
    def views(self) -> int:
        return self.images.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        return self.images.shape[1], self.images.shape[2]


def angles(v: Tensor) -> tuple[Tensor, Tensor]:
    """(theta, phi) = (arcsin(v_y), atan2(v_x, v_z)) of directions (..., 3), Eqs. 8-9."""
    unit = v / v.norm(dim=-1, keepdim=True)
    return torch.asin(unit[..., 1].clamp(-1, 1)), torch.atan2(unit[..., 0], unit[..., 2])


def camera_parameters(rotation: Tensor, eye: Tensor) -> tuple[Tensor, Tensor]:
    """The (direction offset (..., 2), roll (...)) that put a look-at + direction camera at `eye` onto `rotation`."""
    tb, pb = angles(rotation[..., :, 2])
    te, pe = angles(eye)
    wrap = lambda a: torch.remainder(a + math.pi, 2 * math.pi) - math.pi  # noqa: E731
    return torch.stack([tb - te, wrap(pb - pe)], -1), roll_of(rotation)


def initial_cameras(views: list[View], init: str, seed: int, bound: float = 1.0) -> tuple[Tensor, ...]:
    """(eye, direction, roll, focal) of the views' initial cameras in setting `init`."""
    if init not in INITS:
        raise ConfigError(f"init: {init!r}; expected one of {', '.join(INITS)}")
    rot = torch.stack([v.camera.rotation for v in views])
    eye = torch.stack([v.camera.position for v in views])
    focal = torch.tensor([v.camera.focal for v in views], dtype=torch.float64)
    if init == "perturbed":
        g = torch.Generator().manual_seed(10_000 + seed)
        turns = torch.stack([random_rotation((15.0, 25.0), g) for _ in views])
        rot = turns @ rot
        eye = (turns @ eye[..., None]).squeeze(-1)
        noise = torch.randn(eye.shape, generator=g, dtype=torch.float64)
        eye = eye + 0.1 * eye.norm(dim=-1, keepdim=True) * noise / noise.norm(dim=-1, keepdim=True)
    if init == "octant":
        h = views[0].camera.size[0]
        eye = torch.stack([octant_direction(octant(v.camera.position)).double() for v in views]) * octant_distance(bound)
        return (eye, torch.zeros(len(views), 2, dtype=torch.float64), torch.zeros(len(views), dtype=torch.float64),
                torch.full((len(views),), h / 2 / math.tan(math.radians(INITIAL_FOV_DEG) / 2), dtype=torch.float64))
    direction, roll = camera_parameters(rot, eye)
    return eye, direction, roll, focal


def from_world(collection: Collection, init: str = "perturbed", seed: int = 0) -> Photos:
    views = collection.train + collection.test
    eye, direction, roll, focal = initial_cameras(views, init, seed)
    return Photos(
        images=torch.tensor(np.stack([v.image for v in views])), masks=torch.tensor(np.stack([v.mask for v in views])),
        eye=eye.float(), direction=direction.float(), roll=roll.float(), focal=focal.float(),
        train=len(collection.train),
        true_rotation=torch.stack([v.camera.rotation for v in views]).float(),
        true_eye=torch.stack([v.camera.position for v in views]).float(),
        true_focal=torch.tensor([v.camera.focal for v in views]))
