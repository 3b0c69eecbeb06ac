"""The mask rate and modes (§3.3), parallel and token-by-token decoding, CFG (Eq. 6), the tasks."""

import math

import pytest
import torch

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.worlddreamer import STPT, Prompts, config, mask_rate, parallel_decode, sample_mask, token_by_token_decode
from paperzoo.worlddreamer.decoding import guided_logits
from paperzoo.worlddreamer.masking import masked_count
from paperzoo.worlddreamer.tasks import named_actions, region_box, start_ids, task_prompts

MICRO = config("micro").stpt


def test_mask_rate_has_the_arcsine_density():
    """r = cos(pi u / 2): P(r <= x) = 1 - (2/pi) arccos(x), the integral of (2/pi)(1 - r^2)^(-1/2); mean 2/pi."""
    r = mask_rate(torch.rand(200_000, generator=torch.Generator().manual_seed(0)))
    for x in (0.2, 0.5, 0.9):
        assert abs(float((r <= x).float().mean()) - (1 - 2 / math.pi * math.acos(x))) < 0.005
    assert abs(float(r.mean()) - 2 / math.pi) < 0.005


def test_shared_masks_cover_the_same_positions_in_every_frame():
    g = torch.Generator().manual_seed(0)
    m = sample_mask(500, 8, 8, 8, "shared", generator=g)
    assert (m == m[:, :1]).all()
    counts = m[:, 0].flatten(1).sum(1)
    assert counts.min() >= 1
    # ceil(r h w) masked per frame: the mean fraction is 2/pi plus at most one token's worth
    assert 2 / math.pi - 0.03 < float(counts.float().mean()) / 64 < 2 / math.pi + 1 / 64 + 0.03


def test_independent_masks_differ_across_frames_at_the_same_rate():
    m = sample_mask(200, 8, 8, 8, "independent", generator=torch.Generator().manual_seed(0))
    assert not (m == m[:, :1]).all()
    per_frame = m.flatten(2).sum(2)
    assert (per_frame == per_frame[:, :1]).all()


def test_prefix_mode_leaves_the_first_frames_whole():
    m = sample_mask(2000, 8, 8, 8, "shared+prefix", prefix_prob=0.5, generator=torch.Generator().manual_seed(0))
    whole_first = ~m[:, 0].flatten(1).any(1)
    assert 0.4 < float(whole_first.float().mean()) < 0.6
    assert m.flatten(1).any(1).all()  # every sample still has something to predict
    with pytest.raises(ConfigError, match="mask_mode"):
        sample_mask(1, 8, 8, 8, "random")


def test_decoding_schedule_is_cosine():
    total = torch.tensor([448])
    left = [int(masked_count(t, 8, total)) for t in range(1, 9)]
    assert left == [math.floor(448 * math.cos(math.pi / 2 * t / 8)) for t in range(1, 9)] and left[-1] == 0
    assert all(a > b for a, b in zip(left, left[1:]))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return STPT(MICRO).eval()


def _i2v_start(b=3):
    given = torch.randint(0, MICRO.codebook_size, (b, 8, 8, 8), generator=torch.Generator().manual_seed(1))
    return given, start_ids("image-to-video", b, 8, 8, MICRO.mask_id, given=given)


def test_parallel_decoding_fills_every_mask_in_T_passes_and_keeps_the_given_frame(model):
    given, start = _i2v_start()
    out = parallel_decode(model, start, steps=8)
    assert out.forward_passes == 8
    assert not (out.ids == MICRO.mask_id).any()
    assert torch.equal(out.ids[:, 0], given[:, 0])
    assert parallel_decode(model, start, Prompts(actions=torch.zeros(3, 8, 2)), steps=8, beta=2.0).forward_passes == 16


def test_each_parallel_step_unmasks_what_the_schedule_says(model, monkeypatch):
    _, start = _i2v_start(1)
    seen = []
    original = model.forward

    def spy(ids, *a, **k):
        seen.append(int((ids == MICRO.mask_id).sum()))
        return original(ids, *a, **k)

    monkeypatch.setattr(model, "forward", spy)
    parallel_decode(model, start, steps=8)
    assert seen == [448] + [math.floor(448 * math.cos(math.pi / 2 * t / 8)) for t in range(1, 8)]


def test_token_by_token_uses_one_pass_per_masked_token(model):
    given, start = _i2v_start(2)
    start[:, 3:] = given[:, 3:]  # frames 1-2 to fill: 128 tokens
    out = token_by_token_decode(model, start)
    assert out.forward_passes == 2 * 64
    assert not (out.ids == MICRO.mask_id).any() and torch.equal(out.ids[:, 0], given[:, 0])
    one = parallel_decode(model, start, steps=1)  # T = 1: everything at once, from one pass
    assert one.forward_passes == 1 and not (one.ids == MICRO.mask_id).any()


def test_guidance_is_eq_6(model):
    _, start = _i2v_start(2)
    prompts = Prompts(torch.randint(2, 20, (2, 14)), torch.ones(2, 14, dtype=torch.bool))
    c, u = model(start, prompts), model(start, None)
    assert torch.allclose(guided_logits(model, start, prompts, 1.5), 2.5 * c - 1.5 * u, atol=1e-4)


def test_tasks_build_their_masks_and_prompts():
    given = torch.randint(0, 32, (2, 8, 8, 8))
    t2v = start_ids("text-to-video", 2, 8, 8, 32)
    assert (t2v == 32).all()
    i2v = start_ids("image-to-video", 2, 8, 8, 32, given=given)
    assert torch.equal(i2v[:, 0], given[:, 0]) and (i2v[:, 1:] == 32).all()
    pred = start_ids("image-to-video", 2, 8, 8, 32, given=given, context=2)  # video prediction: 2 frames given
    assert torch.equal(pred[:, :2], given[:, :2]) and (pred[:, 2:] == 32).all()
    region = region_box(8, (2, 2, 6, 6))
    inp = start_ids("inpainting", 2, 8, 8, 32, given=given, region=region)
    assert (inp[:, :, 2:6, 2:6] == 32).all() and torch.equal(inp[:, :, :2], given[:, :, :2])
    acts = named_actions("left", 8)
    assert acts[0].tolist() == [0, 0] and acts[1:, 0].lt(0).all() and acts[:, 1].eq(0).all()
    assert task_prompts("unconditional", None, None, None).text_ids is None
    assert task_prompts("action-to-video", None, None, acts[None]).actions.shape == (1, 8, 2)


def test_bad_task_inputs_get_one_clear_error():
    with pytest.raises(InputError, match="task: unknown"):
        start_ids("stylise", 1, 8, 8, 32)
    with pytest.raises(InputError, match="action: unknown"):
        named_actions("jump", 8)
    with pytest.raises(InputError, match="first frame"):
        start_ids("image-to-video", 1, 8, 8, 32)
    with pytest.raises(InputError, match="must be 8x8 tokens"):
        start_ids("image-to-video", 1, 8, 8, 32, given=torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(InputError, match="context"):
        start_ids("image-to-video", 1, 8, 8, 32, given=torch.zeros(1, 8, 8, 8, dtype=torch.long), context=8)
    with pytest.raises(InputError, match="region"):
        region_box(8, (0, 0, 9, 4))
    with pytest.raises(InputError, match="text prompt"):
        task_prompts("text-to-video", None, None, None)
    with pytest.raises(InputError, match="steps"):
        parallel_decode(STPT(MICRO), start_ids("text-to-video", 1, 8, 8, 32), steps=0)
