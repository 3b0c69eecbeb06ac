"""The small-scale metrics on real clips, where their answers are known."""

import numpy as np
import torch

from paperzoo.world.videos import VideoConfig, make_clips
from paperzoo.worlddreamer.classifier import VideoClassifier, caption_accuracy, chance_rates, fvd_lite, targets
from paperzoo.worlddreamer.evaluate import (
    action_sign_agreement, copy_first_frame, mean_ade, motion_accuracy, motion_of_track, unigram_ce,
)

VIDEO = VideoConfig()


def test_true_clips_have_zero_ade_and_the_copy_baseline_does_not():
    clips = make_clips(VIDEO, 0, 32, split="eval")
    assert mean_ade(clips.frames, clips, VIDEO) == 0.0
    assert mean_ade(copy_first_frame(clips.frames), clips, VIDEO) > 2.0
    two = copy_first_frame(clips.frames, context=2)
    assert np.array_equal(two[:, :2], clips.frames[:, :2]) and np.array_equal(two[:, 5], clips.frames[:, 1])


def test_motion_of_true_tracks_is_mostly_right():
    """Occlusions make some true tracks ambiguous; measured 0.93 on 300 clips."""
    clips = make_clips(VIDEO, 0, 200, split="eval")
    assert motion_accuracy(clips.frames, clips, VIDEO) > 0.85
    t = np.arange(8, dtype=float)
    circle = np.stack([16 + 5 * np.cos(0.8 * t), 16 + 5 * np.sin(0.8 * t)], 1)
    assert motion_of_track(circle) == "orbit"
    assert motion_of_track(np.stack([4 + 2 * t, 10 + 0 * t], 1)) == "bounce"
    assert motion_of_track(np.stack([4 + 0.6 * t, 10 + 0 * t], 1)) == "drift"


def test_action_sign_agreement_reads_object_zero_motion():
    clips = make_clips(VIDEO, 0, 64, split="eval")
    agree = action_sign_agreement(clips.frames, clips, VIDEO, clips.actions)
    flipped = action_sign_agreement(clips.frames, clips, VIDEO, -clips.actions)
    assert agree.mean() > 0.6 and flipped.mean() < 0.1


def test_classifier_heads_and_scores_run_on_real_clips():
    torch.manual_seed(0)
    clips = make_clips(VIDEO, 0, 24, split="eval")
    model = VideoClassifier().eval()
    out = model(clips.frames_float())
    assert out["colour"].shape == (24, 3, 7) and out["motion"].shape == (24, 3, 3)
    t = targets(clips, 6)
    assert (t["colour"][clips.n_objects == 1, 1:] == 6).all() and (t["shape"][clips.n_objects == 1, 1:] == -100).all()
    acc = caption_accuracy(model, clips.frames_float(), clips)
    assert set(acc) == {"colour", "shape", "motion"} and all(0 <= v <= 1 for v in acc.values())
    assert chance_rates(VIDEO) == {"colour": 1 / 6, "shape": 1 / 5, "motion": 1 / 3}
    assert fvd_lite(model, clips.frames_float(), clips.frames_float()) < 1e-6


def test_unigram_prior_cross_entropy():
    train = np.array([0, 0, 0, 1])
    assert np.isclose(unigram_ce(train, np.array([0]), 3), -np.log(4 / 7))
