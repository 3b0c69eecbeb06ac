"""The joint optimisation (§3.2, App. A.4-A.5): field, per-image illumination and camera multiplexes.

Every step renders rays (or, after the random-ray phase, patches) of one training photograph from each of
its active camera proposals, and takes one step of three Adams:

- the network (field + illumination + embeddings): lr decayed 10x over training, its gradient clipped to
  norm 0.1, its loss L_Network with SAMURAI's camera posterior scaling (each proposal's loss weighted by
  its detached multiplex weight) times the view importance s_p (Eq. 3);
- the hash grid: the same loss plus L_Grid, the same decay;
- the cameras (beta1 = 0.2, lr 10x lower every `camera_decay_steps`, clip 2.5): each proposal's own loss,
  unweighted by the posterior, times s_q (Eq. 4), plus the look-at, bounds and offset regularisers.

The network and the cameras see differently weighted sums of the same per-proposal losses, so one backward
pass serves both: a proposal's camera parameters only enter its own loss, and their gradient rows are
rescaled from the network's weight to the camera's (tested against two separate backward passes).

Schedules (fractions of `steps`, App. A.5): annealing alpha and the c~ -> c^ fade over the first third;
the rendered resolution (1 / resolution_factor -> full) and the multiplex count (m -> 1) over the first
half, with the proposal softmax sharpness rising 1 -> 10; the focal length from a quarter; view importance
from a sixth; lambda_a (L_Init and the offset regulariser) = 0.1^(step / (0.27 steps)) (SAMURAI).

A fit checkpoints atomically and resumes where it stopped (`fit(..., out=...)`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from paperzoo.core.atomic import atomic_dir
from paperzoo.core.checkpoint import config_to_dict
from paperzoo.core.errors import CheckpointError
from paperzoo.shinobi import losses as L
from paperzoo.shinobi.cameras import CameraMultiplex
from paperzoo.shinobi.config import ShinobiConfig
from paperzoo.shinobi.data import Photos
from paperzoo.shinobi.field import Field
from paperzoo.shinobi.illumination import SGIllumination
from paperzoo.shinobi.importance import ViewImportance
from paperzoo.shinobi.render import Rendered, render_rays

STATE_NAME = "fit_state.pt"


@dataclass
class Schedule:
    anneal: float  # progress of the annealing, 0 -> 1
    brdf: float  # lambda_b: weight of the c~ loss, 1 -> 0
    multiplex: float  # lambda_c, 1 -> 0
    count: int  # proposals rendered
    sharpness: float  # softmax scale of the proposal weights
    scale: float  # rendered resolution / full resolution
    focal: bool
    importance: bool
    init: float  # lambda_a
    patches: bool


def schedule(config: ShinobiConfig, step: int) -> Schedule:
    p = step / config.steps
    lam_c = max(0.0, 1 - p / config.multiplex_fraction)
    lo, hi = config.softmax_scale
    return Schedule(
        anneal=min(1.0, p / config.anneal_fraction), brdf=max(0.0, 1 - p / config.brdf_fraction), multiplex=lam_c,
        count=round((config.proposals - 1) * lam_c) + 1, sharpness=lo + (hi - lo) * (1 - lam_c),
        scale=1 / (1 + (config.resolution_factor - 1) * lam_c), focal=p >= config.focal_fraction,
        importance=config.view_importance and p >= config.importance_fraction,
        init=0.1 ** (step / (config.init_decay_fraction * config.steps)),
        patches=config.patches and step >= config.random_ray_steps)


def resize(image: Tensor, size: int) -> Tensor:
    """(H, W, C) -> (size, size, C) by area averaging (antialiased bilinear)."""
    if image.shape[0] == size:
        return image
    x = image.permute(2, 0, 1)[None]
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0].permute(1, 2, 0)


class Fitter:
    """The model of one photo collection and its optimisation state."""

    def __init__(self, config: ShinobiConfig, photos: Photos, seed: int = 0, device: str = "cpu"):
        self.config, self.photos, self.seed, self.device = config, photos, seed, torch.device(device)
        torch.manual_seed(seed)
        c = config
        self.field = Field(c.field, photos.views).to(self.device)
        self.illumination = SGIllumination(photos.views, c.lobes).to(self.device)
        g = torch.Generator().manual_seed(seed)
        self.cameras = CameraMultiplex(photos.eye, photos.roll, photos.focal, photos.size, c.proposals, g,
                                       photos.direction, c.roll_jitter).to(self.device)
        self.importance = ViewImportance(photos.views, network=c.importance_network)
        grid = [self.field.encoding.grid.table] if self.field.encoding.grid is not None else []
        grid_ids = {id(p) for p in grid}
        self.network_params = [p for p in self.field.parameters() if id(p) not in grid_ids] + list(
            self.illumination.parameters())
        self.grid_params = grid
        self.camera_params = list(self.cameras.parameters())
        self.opt_network = torch.optim.Adam(self.network_params, lr=c.lr_network)
        self.opt_grid = torch.optim.Adam(self.grid_params, lr=c.lr_grid) if grid else None
        self.opt_camera = torch.optim.Adam(self.camera_params, lr=c.lr_camera, betas=(c.camera_beta1, 0.999))
        self.rng = torch.Generator().manual_seed(seed + 1)
        self.step_count = 0
        self._pyramid: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}
        self.history: list[dict] = []

    # ------------------------------------------------------------------ data at the current resolution

    def target(self, view: int, size: int) -> tuple[Tensor, Tensor]:
        """Image over white and mask (size, size, 3) / (size, size) of `view`."""
        key = (view, size)
        if key not in self._pyramid:
            image = resize(self.photos.images[view], size)
            mask = resize(self.photos.masks[view][..., None], size)[..., 0].clamp(0, 1)
            self._pyramid[key] = (image * mask[..., None] + (1 - mask[..., None]), mask)
        return self._pyramid[key]

    def pixels(self, size: int, count: int, patches: bool) -> tuple[Tensor, tuple[int, int] | None]:
        """Integer pixel (row, col) (P, 2) to render: `count` random pixels, or whole patches (n, P, P)."""
        if not patches:
            return torch.randint(size, (count, 2), generator=self.rng), None
        lo, hi = self.config.patch_sizes
        p = int(torch.randint(min(lo, size), min(hi, size) + 1, (1,), generator=self.rng))
        n = max(1, count // (p * p))
        corner = torch.randint(size - p + 1, (n, 2), generator=self.rng)
        rows, cols = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
        grid = torch.stack([rows, cols], -1).reshape(-1, 2)
        return (corner[:, None] + grid[None]).reshape(-1, 2), (n, p)

    @torch.no_grad()
    def render_image(self, view: int, proposal: int | None = None, size: int | None = None,
                     chunk: int = 2048) -> dict[str, Tensor]:
        """The whole image of `view` from its best (or given) proposal: rgb (c^ over white), radiance (c~),
        acc, basecolour, roughness, metallic, normal, depth, (size, size, ...) each."""
        size = size or self.photos.size[0]
        proposal = int(self.cameras.best()[view]) if proposal is None else proposal
        rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        pix = torch.stack([rows, cols], -1).reshape(-1, 2)
        parts = []
        for i in range(0, len(pix), chunk):
            o, d = self.cameras.rays(view, proposal, pix[i:i + chunk].float() + 0.5, size / self.photos.size[0])
            image = torch.full((len(o),), view, dtype=torch.long)
            parts.append(render_rays(self.field, self.illumination, o, d, image, self.config.samples, self.config.bound,
                                     train=False))
        keys = ("rgb", "radiance", "acc", "basecolour", "roughness", "metallic", "normal", "depth")
        return {k: torch.cat([getattr(p, k) for p in parts]).reshape(size, size, -1).squeeze(-1) for k in keys}

    # ------------------------------------------------------------------ one step

    def proposal_loss(self, out: Rendered, dirs: Tensor, target: Tensor, mask: Tensor,
                      patch: tuple[int, int] | None, sch: Schedule, view: int) -> tuple[Tensor, Tensor]:
        """(the network loss of one proposal, its detached raw loss for the multiplex weights and buffer)."""
        c = self.config
        img_hat = L.charbonnier(out.rgb, target)
        img_tilde = L.charbonnier(out.radiance, target)
        if patch is not None:
            n, p = patch
            as_patch = lambda x: x.reshape(n, p, p, -1).permute(0, 3, 1, 2)  # noqa: E731
            img_hat = L.multiscale_charbonnier(as_patch(out.rgb), as_patch(target), c.patch_levels, sch.anneal)
            img_tilde = L.multiscale_charbonnier(as_patch(out.radiance), as_patch(target), c.patch_levels, sch.anneal)
        bce, bg = L.mask_bce(out.acc, mask), L.background_loss(out.alpha, mask)
        mask_loss = bce + bg
        if patch is not None:
            mask_loss = mask_loss + c.silhouette * L.silhouette_loss(as_patch(out.acc[:, None]), as_patch(mask[:, None]),
                                                                     sigma=max(p / 16, 0.5))
        image = torch.full((len(out.acc),), view, dtype=torch.long)
        loss = (sch.brdf * img_tilde + (1 - sch.brdf) * img_hat + mask_loss
                + sch.init * L.init_loss(out.basecolour, out.acc, target)
                + c.ndir * L.orientation_loss(out.weights, out.sample_normals, dirs)
                + c.dec_smooth * L.decoder_smoothness(self.field.decode, out.embedding, image)
                + c.dec_sparsity * L.decoder_sparsity(out.embedding))
        raw = (bce + bg + (img_tilde if sch.brdf > 0.5 else img_hat)).detach()
        return loss, raw

    def proposal_losses(self, view: int, proposals: Tensor, pix: Tensor, patch, size: int, target: Tensor,
                        mask: Tensor, sch: Schedule) -> tuple[list[Tensor], Tensor, dict]:
        """Each rendered proposal's network loss, their detached raw losses (P,), and the renders."""
        losses, raws, renders = [], [], {}
        for proposal in proposals.tolist():
            o, d = self.cameras.rays(view, proposal, pix.float() + 0.5, size / self.photos.size[0])
            image = torch.full((len(pix),), view, dtype=torch.long)
            out = render_rays(self.field, self.illumination, o, d, image, self.config.samples, self.config.bound,
                              perturb=True, train=True, generator=self.rng)
            if not (torch.isfinite(out.acc).all() and torch.isfinite(out.rgb).all()):
                raise FloatingPointError(f"shinobi fit: the render of photograph {view} (proposal {proposal}) is not "
                                         f"finite at step {self.step_count}; lower the learning rates or resume from "
                                         "the last checkpoint")
            loss, raw = self.proposal_loss(out, d, target, mask, patch, sch, view)
            losses.append(loss)
            raws.append(raw)
            renders[proposal] = (out, (o.detach(), d.detach()))
        return losses, torch.stack(raws), renders

    def consistency(self, renders: dict[int, tuple[Rendered, Tensor]], best: int, view: int, size: int) -> Tensor:
        """Eq. 2: the other proposals' pixels, lifted by their rendered depth and projected into the best
        proposal's camera, rendered there; colour and opacity must agree with what the proposal rendered.
        Geometry and targets are detached (the paper leaves both open): the term trains the network only."""
        total = torch.zeros(())
        scale = size / self.photos.size[0]
        with torch.no_grad():
            rot0, eye0, f0 = self.cameras.pose(torch.tensor(view), torch.tensor(best))
        for proposal, (out, dirs_o) in renders.items():
            if proposal == best:
                continue
            o, d = dirs_o
            x = (o + out.depth.detach()[:, None] * d).detach()
            local = (x - eye0) @ rot0
            depth = (-local[:, 2]).clamp_min(1e-3)
            col = f0 * scale * local[:, 0] / depth + size / 2
            row = -f0 * scale * local[:, 1] / depth + size / 2
            ok = (out.acc.detach() > 0.5) & (row >= 0) & (row < size) & (col >= 0) & (col < size)
            if ok.sum() < 1:
                continue
            pix = torch.stack([row[ok], col[ok]], -1)
            o2, d2 = self.cameras.rays(view, best, pix, scale)
            o2, d2 = o2.detach(), d2.detach()
            image = torch.full((len(pix),), view, dtype=torch.long)
            again = render_rays(self.field, self.illumination, o2, d2, image, self.config.samples, self.config.bound,
                                perturb=True, train=True, generator=self.rng)
            total = total + L.charbonnier(again.rgb, out.rgb.detach()[ok]) + L.mask_bce(again.acc, out.acc.detach()[ok])
        return total

    @torch.no_grad()
    def rescale_camera_gradients(self, view: int, proposals: Tensor, network_weights: Tensor, camera_weight: float):
        """After backward of sum_c a_c L_c: camera rows of proposal c hold a_c grad L_c (its camera enters
        no other L_c'); make them camera_weight grad L_c (Eq. 4; the camera loss has no posterior scaling)."""
        for proposal, weight in zip(proposals.tolist(), network_weights.tolist()):
            factor = camera_weight / max(weight, 1e-3)
            for p in self.camera_params:
                if p.grad is not None:
                    p.grad[view, proposal] *= factor

    def camera_regularisers(self, sch: Schedule) -> Tensor:
        """Look-at (the optical axis passes the centre), bounds (eyes between bound and 3 bound), and the size
        of the offsets (SAMURAI's aim_center, volume_padding and offset terms)."""
        c, cams = self.config, self.cameras
        v, m = cams.eye_init.shape[:2]
        rot, eye, _ = cams.pose(torch.arange(v)[:, None].expand(v, m), torch.arange(m)[None].expand(v, m))
        forward = -rot[..., :, 2]
        aim = ((eye + forward * eye.norm(dim=-1, keepdim=True)) ** 2).sum(-1).mean()
        dist = eye.norm(dim=-1)
        r = c.bound
        bounds = (((r - dist).clamp_min(0) / r) ** 2 + (dist - 3 * r).clamp_min(0) ** 2).mean()
        offsets = (cams.eye_offset.abs().sum() + 10 * cams.direction_offset.abs().sum()
                   + math.pi * cams.roll_offset.abs().sum() + 10 * cams.focal_offset.abs().sum()) / (v * m)
        return c.lookat * aim + c.bounds * bounds + c.offsets * max(sch.init, 0.01) * offsets

    def step(self) -> dict:
        c, step = self.config, self.step_count
        sch = schedule(c, step)
        self.field.encoding.progress = sch.anneal
        self.cameras.focal_trainable = sch.focal
        for opt, base, decay in ((self.opt_network, c.lr_network, c.steps), (self.opt_grid, c.lr_grid, c.steps),
                                 (self.opt_camera, c.lr_camera, c.camera_decay_steps)):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = base * 0.1 ** (step / decay)
        k = min(c.views_per_step, self.photos.train)
        views = torch.randperm(self.photos.train, generator=self.rng)[:k].tolist()
        size = max(4, round(self.photos.size[0] * sch.scale))
        total, parts, seen_all = torch.zeros(()), [], []
        for view in views:
            target_img, target_mask = self.target(view, size)
            proposals, post = self.cameras.active(view, sch.count)
            pix, patch = self.pixels(size, max(1, c.rays // (len(proposals) * k)), sch.patches)
            target, mask = target_img[pix[:, 0], pix[:, 1]], target_mask[pix[:, 0], pix[:, 1]]
            losses, raws_t, renders = self.proposal_losses(view, proposals, pix, patch, size, target, mask, sch)
            seen = float((post * raws_t).sum())
            s_p = self.importance.network_weight(seen) if sch.importance else 1.0
            s_q = self.importance.camera_weight(view, seen) if sch.importance else 1.0
            self.importance.record(seen)
            a = post.detach() * s_p  # the network's weight of each proposal's loss
            total = total + sum(w * l for w, l in zip(a, losses))
            if c.consistency and len(proposals) > 1:
                total = total + c.multiplex * self.consistency(renders, int(proposals[0]), view, size)
            parts.append((view, proposals, a, s_q, raws_t))
            seen_all.append(seen)
        if self.grid_params:
            total = total + c.grid_decay * L.grid_decay(self.field.encoding.grid.level_tables())
        for opt in (self.opt_network, self.opt_grid, self.opt_camera):
            if opt is not None:
                opt.zero_grad(set_to_none=True)
        if not torch.isfinite(total):
            raise FloatingPointError(f"shinobi fit: the loss is not finite at step {step} (views {views}); lower the "
                                     "learning rates or resume from the last checkpoint")
        total.backward()
        for view, proposals, a, s_q, _ in parts:  # each view's cameras enter only its own losses
            self.rescale_camera_gradients(view, proposals, a, s_q)
        self.camera_regularisers(sch).backward()
        torch.nn.utils.clip_grad_norm_(self.network_params, c.clip_network)
        torch.nn.utils.clip_grad_norm_(self.camera_params, c.clip_camera)
        for opt in (self.opt_network, self.opt_grid, self.opt_camera):
            if opt is not None:
                opt.step()
        for view, proposals, _, _, raws_t in parts:
            self.cameras.update_weights(view, proposals, raws_t, sch.sharpness)
        seen, proposals = float(np.mean(seen_all)), parts[0][1]
        self.step_count += 1
        record = {"step": step, "loss": float(total.detach()), "raw": seen, "count": len(proposals), "size": size}
        self.history.append(record)
        return record

    # ------------------------------------------------------------------ the loop, checkpoints

    def state_dict(self) -> dict:
        return {"field": self.field.state_dict(), "illumination": self.illumination.state_dict(),
                "cameras": self.cameras.state_dict(), "opt_network": self.opt_network.state_dict(),
                "opt_grid": self.opt_grid.state_dict() if self.opt_grid else None,
                "opt_camera": self.opt_camera.state_dict(), "importance": self.importance.state_dict(),
                "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(), "step": self.step_count,
                "history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.field.load_state_dict(state["field"])
        self.illumination.load_state_dict(state["illumination"])
        self.cameras.load_state_dict(state["cameras"])
        self.opt_network.load_state_dict(state["opt_network"])
        if self.opt_grid:
            self.opt_grid.load_state_dict(state["opt_grid"])
        self.opt_camera.load_state_dict(state["opt_camera"])
        self.importance.load_state_dict(state["importance"])
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.step_count, self.history = int(state["step"]), list(state["history"])

    def save(self, folder: Path) -> None:
        with atomic_dir(folder) as tmp:
            torch.save(self.state_dict(), tmp / STATE_NAME)
            (tmp / "config.json").write_text(json.dumps(config_to_dict(self.config), indent=1))

    def load(self, folder: Path) -> None:
        try:
            self.load_state_dict(torch.load(Path(folder) / STATE_NAME, weights_only=False))
        except (OSError, RuntimeError, KeyError) as e:
            raise CheckpointError(f"shinobi checkpoint {folder}: cannot be read ({e})") from e

    def fit(self, steps: int | None = None, out: Path | None = None, every: int = 250, progress: bool = True,
            desc: str = "shinobi fit") -> list[dict]:
        """Run to `steps` (default: the config's), resuming from `out`/checkpoint when it is there."""
        steps = self.config.steps if steps is None else steps
        ckpt = Path(out) / "checkpoint" if out is not None else None
        if ckpt is not None and (ckpt / STATE_NAME).is_file():
            self.load(ckpt)
        with tqdm(total=steps, initial=self.step_count, desc=desc, disable=not progress, dynamic_ncols=True) as bar:
            while self.step_count < steps:
                record = self.step()
                bar.update(1)
                bar.set_postfix(loss=f"{record['loss']:.3f}", m=record["count"])
                if ckpt is not None and (self.step_count % every == 0 or self.step_count == steps):
                    self.save(ckpt)
        return self.history
