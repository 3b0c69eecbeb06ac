"""Small-scale metrics (the card's §5): the paper reports no numbers, so these are ours.

- Trajectory ADE: track every object of a clip by its colour (`world.videos.track_colours`)
  in the generated frames and in the true frames, and average the distance between the two
  centroids over the generated frames (1..N-1 for image-to-video), in pixels. A track lost in
  generated frames holds its last position (frame 0's when never found), as a tracker would.
- The copy baseline: the last given frame repeated, i.e. nothing moves after the context.
- Motion type from a track (`motion_of_track`: a circle fit, then speed) and its accuracy
  against the caption; action sign agreement (does object 0 move the way its actions say).
- The held-out Eq. 5 loss (`masked_token_ce`) against the code prior (`unigram_ce`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from paperzoo.world.videos import ClipBatch, VideoConfig, track_colours


def _hold(track: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Fill NaN positions of one track (N, 2) with the last found one (the fallback before any)."""
    out = track.copy()
    last = fallback
    for t in range(len(out)):
        if np.isnan(out[t]).any():
            out[t] = last
        else:
            last = out[t]
    return out


def trajectory_errors(frames: np.ndarray, clips: ClipBatch, video: VideoConfig, from_frame: int = 1) -> np.ndarray:
    """Per-clip ADE in pixels: frames (B, N, H, W, 3) uint8 generated for `clips` (the truth)."""
    out = np.zeros(len(clips))
    for i in range(len(clips)):
        k = int(clips.n_objects[i])
        colours = [video.colours[c] for c in clips.attributes[i, :k, 1]]
        truth = track_colours(clips.frames[i], colours)
        fake = track_colours(frames[i], colours)
        errors = []
        for j in range(k):
            seen = ~np.isnan(truth[j, from_frame:, 0])
            if not seen.any():
                continue
            held = _hold(fake[j], truth[j, 0] if not np.isnan(truth[j, 0, 0]) else clips.centres[i, j, 0])
            d = np.linalg.norm(held[from_frame:] - truth[j, from_frame:], axis=-1)
            errors.append(d[seen])
        out[i] = np.concatenate(errors).mean() if errors else 0.0
    return out


def copy_first_frame(frames: np.ndarray, context: int = 1) -> np.ndarray:
    """The baseline video: the last given frame repeated (B, N, H, W, 3): nothing moves after the context.

    From one frame of this world the motion is unobservable (directions are uniform), so no
    motion is the best point guess and the copy is hard to beat; with two or more given frames
    the velocity can be read off and extrapolated."""
    out = frames.copy()
    out[:, context:] = frames[:, context - 1 : context]
    return out


def mean_ade(frames: np.ndarray, clips: ClipBatch, video: VideoConfig, from_frame: int = 1) -> float:
    return float(trajectory_errors(frames, clips, video, from_frame).mean())


def to_uint8(frames) -> np.ndarray:
    """(B, N, 3, H, W) float in [0, 1] (tensor or array) -> (B, N, H, W, 3) uint8."""
    x = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    return np.clip(np.rint(x.transpose(0, 1, 3, 4, 2) * 255), 0, 255).astype(np.uint8)


def summarise(values: Sequence[float]) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.3f} +- {v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0:.3f}"


def motion_of_track(track: np.ndarray) -> str:
    """Name a track's (N, 2) motion: "orbit" when a circle of radius 3-9 px fits it within 1 px and it
    turns through more than 2 radians, else "bounce" when it moves faster than 1.2 px a frame, else "drift".
    A track with fewer than 3 found positions is "drift" (it barely moved, or was lost)."""
    p = track[~np.isnan(track).any(1)].astype(np.float64)
    if len(p) < 3:
        return "drift"
    a = np.c_[2 * p, np.ones(len(p))]
    sol, *_ = np.linalg.lstsq(a, (p**2).sum(1), rcond=None)
    centre = sol[:2]
    radius = np.sqrt(max(sol[2] + centre @ centre, 0.0))
    residual = np.sqrt(np.mean((np.linalg.norm(p - centre, axis=1) - radius) ** 2))
    angles = np.unwrap(np.arctan2(p[:, 1] - centre[1], p[:, 0] - centre[0]))
    if 3 <= radius <= 9 and residual < 1.0 and abs(angles[-1] - angles[0]) > 2:
        return "orbit"
    speed = np.linalg.norm(np.diff(p, axis=0), axis=1).mean()
    return "bounce" if speed > 1.2 else "drift"


def motion_accuracy(frames: np.ndarray, clips: ClipBatch, video: VideoConfig) -> float:
    """The fraction of objects whose colour track in `frames` moves the way the clip's caption says."""
    hits = []
    for i in range(len(clips)):
        k = int(clips.n_objects[i])
        tracks = track_colours(frames[i], [video.colours[c] for c in clips.attributes[i, :k, 1]])
        for j in range(k):
            hits.append(motion_of_track(tracks[j]) == video.motions[clips.attributes[i, j, 3]])
    return float(np.mean(hits))


def action_sign_agreement(frames: np.ndarray, clips: ClipBatch, video: VideoConfig, actions: np.ndarray) -> np.ndarray:
    """Per clip: does object 0 move (first to last frame where found) along the summed action's main axis,
    in its sign? frames (B, N, H, W, 3) generated from `actions` (B, N, 2)."""
    out = np.zeros(len(clips), bool)
    for i in range(len(clips)):
        track = track_colours(frames[i], [video.colours[clips.attributes[i, 0, 1]]])[0]
        found = np.flatnonzero(~np.isnan(track[:, 0]))
        if len(found) < 2:
            continue
        move = track[found[-1]] - track[found[0]]
        total = actions[i].sum(0)
        axis = int(np.argmax(np.abs(total)))
        out[i] = np.sign(move[axis]) == np.sign(total[axis]) and abs(move[axis]) >= 1.0
    return out


def masked_token_ce(model, ids, prompts=None, seed: int = 0, mode: str | None = None) -> float:
    """Held-out Eq. 5 loss: the mean cross-entropy (nats) of the true tokens at masked positions,
    with masks drawn from `seed` (the training distribution; `mode` defaults to the model's)."""
    import torch

    from paperzoo.worlddreamer.masking import sample_mask
    from paperzoo.worlddreamer.train import masked_token_loss

    c = model.config
    g = torch.Generator().manual_seed(seed)
    mask = sample_mask(len(ids), c.frames, c.grid, c.grid, mode or c.mask_mode, c.prefix_prob, generator=g)
    with torch.no_grad():
        return float(masked_token_loss(model, ids, mask, prompts))


def unigram_ce(train_ids: np.ndarray, eval_ids: np.ndarray, codebook_size: int) -> float:
    """The prior's cross-entropy (nats): every token predicted from the training tokens' code frequencies
    (add-one smoothed), the baseline a masked-token model must beat."""
    counts = np.bincount(train_ids.ravel(), minlength=codebook_size) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-logp[eval_ids.ravel()].mean())
