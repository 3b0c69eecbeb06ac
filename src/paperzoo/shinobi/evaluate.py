"""Evaluation (§4): test views, poses after Procrustes alignment, materials and relighting.

- Test views: "we optimize the cameras and illuminations on the test images but do not allow the test
  images to affect the other network parts" (§4). `fit_test_views` does that after training: the test
  views' cameras (proposal 0), SG lobes and per-image embeddings are optimised with everything else frozen.
  Then PSNR and SSIM (Gaussian window 11, sigma 1.5) of c^ against the photograph, both over white with the
  object's mask (the model renders the object, not the background).
- Poses: the estimated eyes are aligned to the true ones with a similarity (Umeyama's Procrustes); the
  rotation error is the angle of R_true^T (R_align R_est) in degrees, the translation error the distance
  between true and aligned eyes (scene units: the object fits the unit sphere), both averaged over views.
- Basecolour: PSNR of the rendered basecolour against the true one where both masks hold, after a
  per-channel scale fit (the albedo-light product is ambiguous: card §5).
- Relighting: the held-out environment, turned into the model's frame by the alignment, replaces a test
  view's lobes; PSNR of the object's colour against the world's rendering under it (per-channel scale fit,
  over white).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from paperzoo.shinobi import losses as L
from paperzoo.shinobi.render import render_rays
from paperzoo.shinobi.train import Fitter
from paperzoo.world.objects3d import Collection, SGLight


def psnr(a: Tensor, b: Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 10 * math.log10(1 / max(mse, 1e-12))


def ssim(a: Tensor, b: Tensor, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004; C1 = 0.01^2, C2 = 0.03^2) of images (H, W, C) in [0, 1], per channel."""
    x = torch.arange(window, dtype=torch.float64) - window // 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :])[None, None].repeat(a.shape[-1], 1, 1, 1)
    A, B = (t.double().permute(2, 0, 1)[None] for t in (a, b))
    conv = lambda t: F.conv2d(t, k, groups=a.shape[-1])  # noqa: E731  (valid windows only)
    mu_a, mu_b = conv(A), conv(B)
    var_a, var_b, cov = conv(A * A) - mu_a**2, conv(B * B) - mu_b**2, conv(A * B) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def umeyama(src: Tensor, dst: Tensor) -> tuple[float, Tensor, Tensor]:
    """(s, R, t) minimising sum |dst - (s R src + t)|^2 over similarities (Umeyama 1991)."""
    src, dst = src.double(), dst.double()
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, d, vt = torch.linalg.svd(cov)
    sign = torch.ones(3, dtype=torch.float64)
    if torch.det(u) * torch.det(vt) < 0:
        sign[-1] = -1
    r = u @ torch.diag(sign) @ vt
    var = (xs**2).sum() / len(src)
    s = float((d * sign).sum() / var) if var > 0 else 1.0
    return s, r, mu_d - s * r @ mu_s


def rotation_angle(a: Tensor, b: Tensor) -> Tensor:
    """Angles in degrees between rotations (..., 3, 3)."""
    c = ((torch.einsum("...ij,...ij->...", a.double(), b.double()) - 1) / 2).clamp(-1, 1)
    return torch.rad2deg(torch.arccos(c))


def pose_errors(rotation: Tensor, eye: Tensor, true_rotation: Tensor, true_eye: Tensor) -> dict:
    s, r, t = umeyama(eye, true_eye)
    aligned_eye = s * eye.double() @ r.T + t
    aligned_rot = r @ rotation.double()
    rot = rotation_angle(true_rotation, aligned_rot)
    trans = (aligned_eye - true_eye.double()).norm(dim=-1)
    return {"rotation_deg": float(rot.mean()), "translation": float(trans.mean()), "rotation_per_view": rot.tolist(),
            "translation_per_view": trans.tolist(), "alignment": (s, r, t)}


def fit_test_views(fitter: Fitter, steps: int, rays: int = 256, lr: float = 5e-3) -> None:
    """Fit the test views' cameras (proposal 0), SG lobes and embeddings with the rest frozen (§4): `steps`
    steps, each rendering `rays` rays spread over all test views (at least 32 each). The first half fits the
    light and embeddings alone (a camera moved to explain a wrong light moves the wrong way: measured), the
    second half the cameras too; focal lengths stay as initialised (ours)."""
    photos, c = fitter.photos, fitter.config
    test = list(range(photos.train, photos.views))
    if not test or steps <= 0:
        return
    cams, illum, fld = fitter.cameras, fitter.illumination, fitter.field
    fld.encoding.progress = 1.0
    trainable = list(cams.parameters()) + list(illum.parameters()) + [fld.appearance.weight, fld.diffuse.weight]
    frozen = [p for p in list(fld.parameters()) if all(p is not q for q in trainable)]
    for p in frozen:
        p.requires_grad_(False)
    cams.focal_trainable = False
    opt = torch.optim.Adam([{"params": list(cams.parameters()), "lr": c.lr_camera, "betas": (c.camera_beta1, 0.999)},
                            {"params": list(illum.parameters()) + [fld.appearance.weight, fld.diffuse.weight],
                             "lr": lr}])
    g = torch.Generator().manual_seed(fitter.seed + 7)
    size = photos.size[0]
    per_view = max(32, rays // len(test))
    try:
        for step in range(steps):  # every test view in every step, so each camera gets `steps` updates
            opt.param_groups[0]["lr"] = c.lr_camera if step >= steps // 2 else 0.0  # light first, then cameras
            loss = torch.zeros(())
            for view in test:
                target_img, target_mask = fitter.target(view, size)
                pix = torch.randint(size, (per_view, 2), generator=g)
                o, d = cams.rays(view, 0, pix.float() + 0.5)
                out = render_rays(fld, illum, o, d, torch.full((per_view,), view), c.samples, c.bound, perturb=True,
                                  train=True, generator=g)
                target, mask = target_img[pix[:, 0], pix[:, 1]], target_mask[pix[:, 0], pix[:, 1]]
                loss = loss + L.charbonnier(out.rgb, target) + L.mask_bce(out.acc, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    cams.weights[photos.train:] = 0
    cams.weights[photos.train:, 0] = 1  # proposal 0 is the fitted one


def _scale_fit(pred: Tensor, target: Tensor, on: Tensor) -> Tensor:
    """pred scaled per channel to best match target where `on`."""
    p, t = pred[on], target[on]
    k = (p * t).sum(0) / (p * p).sum(0).clamp_min(1e-9)
    return pred * k


def evaluate(fitter: Fitter, collection: Collection | None = None, test_steps: int = 300) -> dict:
    """Every metric of the module docstring; `collection` (the world's) gives materials and relighting."""
    photos = fitter.photos
    fit_test_views(fitter, test_steps)
    rot, eye, _ = fitter.cameras.cameras()
    out: dict = {}
    n = photos.train
    if photos.true_rotation is not None:
        poses = pose_errors(rot[:n], eye[:n], photos.true_rotation[:n], photos.true_eye[:n])
        _, align_r, _ = poses.pop("alignment")
        out.update(poses)
    else:
        align_r = torch.eye(3, dtype=torch.float64)
    test = list(range(n, photos.views))
    size = photos.size[0]
    psnrs, ssims, albedo, relit = [], [], [], []
    for k, view in enumerate(test):
        r = fitter.render_image(view, 0)
        target, mask = fitter.target(view, size)
        psnrs.append(psnr(r["rgb"].clamp(0, 1), target))
        ssims.append(ssim(r["rgb"].clamp(0, 1), target))
        if collection is None:
            continue
        truth = collection.test[k]
        on = (torch.tensor(truth.mask) > 0.5) & (r["acc"] > 0.5)
        if on.sum() > 0:
            base = _scale_fit(r["basecolour"], torch.tensor(truth.basecolour), on)
            albedo.append(psnr(base[on].clamp(0, 1), torch.tensor(truth.basecolour)[on]))
        relit.append(relight_psnr(fitter, view, collection.relight_light, collection.relight[k], align_r))
    out.update(test_psnr=float(np.mean(psnrs)) if psnrs else float("nan"),
               test_ssim=float(np.mean(ssims)) if ssims else float("nan"),
               albedo_psnr=float(np.mean(albedo)) if albedo else float("nan"),
               relight_psnr=float(np.mean(relit)) if relit else float("nan"))
    train_psnr = []
    for view in range(min(n, 4)):
        r = fitter.render_image(view)
        train_psnr.append(psnr(r["rgb"].clamp(0, 1), fitter.target(view, size)[0]))
    out["train_psnr"] = float(np.mean(train_psnr))
    return out


@torch.no_grad()
def relight_psnr(fitter: Fitter, view: int, light: SGLight, truth, align_rotation: Tensor) -> float:
    """Render `view` under `light` (world frame, turned into the model's by the alignment) and compare the
    object's colour with the world's rendering under it, over white, after a per-channel scale fit."""
    illum = fitter.illumination
    saved = [p.detach().clone() for p in illum.parameters()]
    model_light = SGLight(light.axes @ align_rotation.to(light.axes.dtype), light.sharpness, light.amplitudes)
    try:
        illum.set_light(view, model_light)
        r = fitter.render_image(view, 0)
    finally:
        for p, s in zip(illum.parameters(), saved):
            p.copy_(s)
    mask = torch.tensor(truth.mask)
    target = torch.tensor(truth.radiance) * mask[..., None] + (1 - mask[..., None])
    on = (mask > 0.5) & (r["acc"] > 0.5)
    if on.sum() == 0:
        return float("nan")
    # the object's own colour (c^ without the white), scaled per channel, then over white again
    acc = r["acc"][..., None]
    colour = (r["rgb"] - (1 - acc)) / acc.clamp_min(1e-3)
    colour = _scale_fit(colour, torch.tensor(truth.radiance), on)
    pred = acc * colour + (1 - acc)
    return psnr(pred.clamp(0, 1), target)
