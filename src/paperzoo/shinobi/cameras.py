"""Cameras: the "look-at + direction" parameterisation (§3.1, App. A.3, Eqs. 7-10), camera multiplexes
with their posterior weights, and pose initialisations.

A camera stores initial values and learned offsets for its eye p_eye (3), its direction (2), an up
(roll) angle and its focal length:

    d = (p_eye + dp_eye) - p_center                                       (7)  p_center = the origin
    theta = arcsin(d_y / |d|) + d_theta                                   (8)
    phi = atan2(d_x, d_z) + d_phi                                         (9)
    d^ = (cos theta sin phi, sin theta, cos theta cos phi)                (10)

d^ is the camera's back axis (it looks along -d^). Eq. 10 as printed swaps theta and phi; this is the
form that gives d^ = d / |d| when the offsets are 0 (the card's fix). The offsets d_theta, d_phi are
clamped to [-pi/2, pi/2] ("We limit Delta d to the range [-0.5 pi, 0.5 pi]"). The focal length is
f = (sqrt(f_0 / H) + df)^2 H (SAMURAI's store) and is held until `focal_trainable` is set (a quarter of
training in the paper).

A multiplex (§3.1) holds m proposals per image, jittered around the initial camera (proposal 0 is not):
N(0, (|p_eye| / 5)^2) on the eye (kept at the initial distance) and N(0, roll_jitter^2) on the up angle:
SAMURAI's code draws N(0, (pi / 3)^2) there but its look-at cameras then start from an up angle of 0, so
the draw never applies; ours follows what the code does (0) unless `roll_jitter` is set.
Each proposal has a weight; after every step the weights move towards softmax(-s loss) with SAMURAI's
momentum update (rate 0.3, momentum 0.75), and only the `count` best proposals are rendered: the worst
is faded out as count falls from m to 1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from paperzoo.core.errors import ConfigError
from paperzoo.world.objects3d import camera_frame

INITIAL_FOV_DEG = 53.13  # App. A.3: tan(fov / 2) = 0.5, so f = H


def octant_direction(octant: tuple[bool, bool, bool]) -> Tensor:
    """The unit direction of an octant label (right?, above?, front?): (+-1, +-1, +-1) / sqrt(3)."""
    return torch.tensor([1.0 if b else -1.0 for b in octant]) / math.sqrt(3)


def octant_distance(bound: float, fov_deg: float = INITIAL_FOV_DEG) -> float:
    """SAMURAI's initial distance: the bounding sphere's diameter fills the initial field of view."""
    return bound / math.tan(math.radians(fov_deg) / 2)


def random_rotation(angle_range_deg: tuple[float, float], generator: torch.Generator) -> Tensor:
    """A rotation by an angle drawn from the range about a uniformly random axis (Rodrigues)."""
    axis = torch.randn(3, generator=generator, dtype=torch.float64)
    axis = axis / axis.norm()
    lo, hi = angle_range_deg
    angle = math.radians(lo + (hi - lo) * float(torch.rand(1, generator=generator, dtype=torch.float64)))
    k = torch.tensor([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]], dtype=torch.float64)
    return torch.eye(3, dtype=torch.float64) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def roll_of(rotation: Tensor) -> Tensor:
    """The roll angle that `camera_frame(back, roll)` needs to give this rotation (columns right, up, back)."""
    unrolled = camera_frame(rotation[..., :, 2], torch.zeros(rotation.shape[:-2], dtype=rotation.dtype))
    right = rotation[..., :, 0]
    cos = (right * unrolled[..., :, 0]).sum(-1)
    sin = (right * unrolled[..., :, 1]).sum(-1)
    return torch.atan2(sin, cos)


class CameraMultiplex(nn.Module):
    """V images x m proposals. eye (V, 3), roll (V,), focal (V,) in pixels, direction (V, 2) (theta, phi offsets
    from the eye's own, 0 = looking at the centre): the initial cameras; size (H, W)."""

    def __init__(self, eye: Tensor, roll: Tensor, focal: Tensor, size: tuple[int, int], proposals: int = 1,
                 generator: torch.Generator | None = None, direction: Tensor | None = None, roll_jitter: float = 0.0):
        super().__init__()
        if proposals < 1:
            raise ConfigError(f"proposals: {proposals}; at least 1")
        v, m = eye.shape[0], proposals
        self.size = size
        eye0 = eye.double()[:, None].repeat(1, m, 1)
        roll0 = roll.double()[:, None].repeat(1, m)
        if m > 1:
            g = generator or torch.Generator().manual_seed(0)
            dist = eye.double().norm(dim=-1)
            jitter = torch.randn(v, m - 1, 3, generator=g, dtype=torch.float64) * (dist / 5)[:, None, None]
            moved = eye0[:, 1:] + jitter
            eye0[:, 1:] = moved / moved.norm(dim=-1, keepdim=True) * dist[:, None, None]
            roll0[:, 1:] = roll0[:, 1:] + torch.randn(v, m - 1, generator=g, dtype=torch.float64) * roll_jitter
        self.register_buffer("eye_init", eye0.float())
        self.register_buffer("roll_init", roll0.float())
        direction0 = torch.zeros(v, 2) if direction is None else direction.float()
        self.register_buffer("direction_init", direction0[:, None].repeat(1, m, 1))
        self.register_buffer("focal_root", (focal.float() / size[0]).sqrt()[:, None].repeat(1, m))
        self.eye_offset = nn.Parameter(torch.zeros(v, m, 3))
        self.direction_offset = nn.Parameter(torch.zeros(v, m, 2))
        self.roll_offset = nn.Parameter(torch.zeros(v, m))
        self.focal_offset = nn.Parameter(torch.zeros(v, m))
        self.register_buffer("weights", torch.full((v, m), 1.0 / m))
        self.register_buffer("velocity", torch.zeros(v, m))
        self.focal_trainable = False

    @property
    def proposals(self) -> int:
        return self.eye_init.shape[1]

    def pose(self, view: Tensor, proposal: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Rotation (..., 3, 3), eye (..., 3) and focal (...) of (view, proposal) pairs (broadcast index tensors)."""
        eye = self.eye_init[view, proposal] + self.eye_offset[view, proposal]
        d = eye  # p_center = 0 (Eq. 7)
        unit = d / d.norm(dim=-1, keepdim=True)
        offset = self.direction_init[view, proposal] + self.direction_offset[view, proposal].clamp(-math.pi / 2,
                                                                                                    math.pi / 2)
        theta = torch.asin(unit[..., 1].clamp(-1 + 1e-6, 1 - 1e-6)) + offset[..., 0]  # (8)
        phi = torch.atan2(d[..., 0], d[..., 2]) + offset[..., 1]  # (9)
        back = torch.stack([torch.cos(theta) * torch.sin(phi), torch.sin(theta), torch.cos(theta) * torch.cos(phi)], -1)
        rotation = camera_frame(back, self.roll_init[view, proposal] + self.roll_offset[view, proposal])
        df = self.focal_offset[view, proposal]
        if not self.focal_trainable:
            df = df.detach()
        focal = (self.focal_root[view, proposal] + df) ** 2 * self.size[0]
        return rotation, eye, focal

    def rays(self, view: int, proposal: int, pixels: Tensor, scale: float = 1.0) -> tuple[Tensor, Tensor]:
        """Unit rays through `pixels` (P, 2) (row, column) of an image rendered at `scale` times the full size."""
        rotation, eye, focal = self.pose(torch.tensor(view), torch.tensor(proposal))
        h, w = self.size
        local = torch.stack([(pixels[:, 1] - w * scale / 2) / (focal * scale),
                             -(pixels[:, 0] - h * scale / 2) / (focal * scale), -torch.ones(len(pixels))], -1)
        dirs = local @ rotation.T
        dirs = dirs / dirs.norm(dim=-1, keepdim=True)
        return eye.expand_as(dirs), dirs

    def active(self, view: int, count: int) -> tuple[Tensor, Tensor]:
        """The `count` proposals of `view` with the largest weights, and their weights renormalised."""
        w = self.weights[view]
        top = torch.topk(w, min(count, len(w))).indices
        return top, w[top] / w[top].sum().clamp_min(1e-12)

    @torch.no_grad()
    def update_weights(self, view: int, proposals: Tensor, losses: Tensor, sharpness: float,
                       rate: float = 0.3, momentum: float = 0.75) -> None:
        """SAMURAI's update: target = softmax(-s loss) over the rendered proposals; g = target - w;
        v = momentum v + rate g; w = relu(w + momentum v + rate g), renormalised over the view."""
        if len(proposals) < 2:
            return
        w = self.weights[view, proposals]
        w = w / w.sum()
        target = torch.softmax(-sharpness * losses.detach().float(), 0)
        g = target - w
        vel = momentum * self.velocity[view, proposals] + rate * g
        self.velocity[view, proposals] = vel
        share = self.weights[view, proposals].sum()
        new = (w + momentum * vel + rate * g).clamp_min(0)
        self.weights[view, proposals] = new / new.sum().clamp_min(1e-12) * share

    def best(self) -> Tensor:
        """(V,) the proposal with the largest weight per view."""
        return self.weights.argmax(-1)

    def cameras(self, proposal: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Rotation (V, 3, 3), eye (V, 3), focal (V,) of each view's best (or given) proposal, detached."""
        proposal = self.best() if proposal is None else proposal
        with torch.no_grad():
            r, e, f = self.pose(torch.arange(len(proposal)), proposal)
        return r, e, f
