"""The fit: one backward serves network and cameras (tested against separate passes), resume, schedules."""

import dataclasses

import pytest
import torch

from paperzoo.shinobi.data import from_world
from paperzoo.shinobi.train import Fitter, schedule

from .conftest import MICRO


def test_one_backward_gives_the_cameras_their_own_loss_gradient(micro_world):
    f = Fitter(MICRO, from_world(micro_world, "perturbed", 0), seed=0)
    sch = schedule(MICRO, 0)
    view, proposals = 1, torch.tensor([0, 1])
    pix, _ = f.pixels(16, 32, patches=False)
    target, mask = f.target(view, 16)
    target, mask = target[pix[:, 0], pix[:, 1]], mask[pix[:, 0], pix[:, 1]]
    a, s_q = torch.tensor([0.7, 0.3]) * 1.4, 0.8
    f.cameras.focal_trainable = True
    state = f.rng.get_state()

    torch.manual_seed(0)
    losses, _, _ = f.proposal_losses(view, proposals, pix, None, 16, target, mask, sch)
    sum(w * l for w, l in zip(a, losses)).backward()
    f.rescale_camera_gradients(view, proposals, a, s_q)
    fused = [p.grad[view].clone() for p in f.camera_params]
    network = [p.grad.clone() for p in f.network_params]

    f.rng.set_state(state)
    torch.manual_seed(0)
    losses, _, _ = f.proposal_losses(view, proposals, pix, None, 16, target, mask, sch)
    camera = torch.autograd.grad(sum(s_q * l for l in losses), f.camera_params, allow_unused=True)
    f.rng.set_state(state)
    torch.manual_seed(0)
    losses, _, _ = f.proposal_losses(view, proposals, pix, None, 16, target, mask, sch)
    net = torch.autograd.grad(sum(w * l for w, l in zip(a, losses)), f.network_params, allow_unused=True)
    for got, want in zip(fused, camera):
        if want is not None:
            torch.testing.assert_close(got, want[view], rtol=1e-4, atol=1e-7)
    for got, want in zip(network, net):
        if want is not None:
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)


def test_an_interrupted_fit_resumes_to_the_same_state(micro_world, tmp_path):
    photos = from_world(micro_world, "perturbed", 0)
    config = dataclasses.replace(MICRO, steps=6, random_ray_steps=3)
    straight = Fitter(config, photos, seed=3)
    straight.fit(progress=False)
    first = Fitter(config, photos, seed=3)
    first.fit(3, out=tmp_path, every=3, progress=False)
    resumed = Fitter(config, photos, seed=3)
    resumed.fit(out=tmp_path, progress=False)
    assert resumed.step_count == 6
    for a, b in zip(straight.field.parameters(), resumed.field.parameters()):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(straight.cameras.eye_offset, resumed.cameras.eye_offset)
    torch.testing.assert_close(straight.cameras.weights, resumed.cameras.weights)


def test_schedule_follows_the_papers_fractions():
    c = dataclasses.replace(MICRO, steps=600, proposals=4, resolution_factor=4.0, random_ray_steps=100)
    start, third, half, end = (schedule(c, s) for s in (0, 200, 300, 599))
    assert start.count == 4 and start.scale == pytest.approx(0.25) and start.brdf == 1.0 and not start.patches
    assert third.anneal == 1.0 and third.brdf == 0.0 and third.patches
    assert half.count == 1 and half.scale == 1.0 and half.sharpness == 10.0
    assert not schedule(c, 149).focal and schedule(c, 150).focal  # a quarter
    assert not schedule(c, 99).importance and schedule(c, 100).importance  # a sixth
    assert end.init == pytest.approx(0.1 ** (599 / (c.init_decay_fraction * 600)))


def test_a_fit_that_goes_non_finite_stops_with_one_clear_error(micro_world):
    f = Fitter(dataclasses.replace(MICRO, views_per_step=6), from_world(micro_world, "gt", 0), seed=0)
    with torch.no_grad():
        f.cameras.eye_offset[:] = float("nan")
    with pytest.raises(FloatingPointError, match="not finite at step 0"):
        f.step()
