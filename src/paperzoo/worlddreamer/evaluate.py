"""Small-scale metrics (the card's §5): the paper reports no numbers, so these are ours.

- Trajectory ADE: track every object of a clip by its colour (`world.videos.track_colours`)
  in the generated frames and in the true frames, and average the distance between the two
  centroids over the generated frames (1..N-1 for image-to-video), in pixels. A track lost in
  generated frames holds its last position (frame 0's when never found), as a tracker would.
- The copy-frame-0 baseline: the first frame repeated, i.e. nothing moves.
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


def copy_first_frame(frames: np.ndarray) -> np.ndarray:
    """The baseline video: frame 0 repeated (B, N, H, W, 3)."""
    return np.repeat(frames[:, :1], frames.shape[1], axis=1)


def mean_ade(frames: np.ndarray, clips: ClipBatch, video: VideoConfig, from_frame: int = 1) -> float:
    return float(trajectory_errors(frames, clips, video, from_frame).mean())


def to_uint8(frames) -> np.ndarray:
    """(B, N, 3, H, W) float in [0, 1] (tensor or array) -> (B, N, H, W, 3) uint8."""
    x = frames.detach().cpu().numpy() if hasattr(frames, "detach") else np.asarray(frames)
    return np.clip(np.rint(x.transpose(0, 1, 3, 4, 2) * 255), 0, 255).astype(np.uint8)


def summarise(values: Sequence[float]) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.3f} +- {v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0:.3f}"
