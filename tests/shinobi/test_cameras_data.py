"""Cameras (Eqs. 7-10), the multiplex weights, the initial poses and the Procrustes pose errors."""

import math

import pytest
import torch

from paperzoo.core.errors import ConfigError
from paperzoo.shinobi.cameras import CameraMultiplex, octant_distance, random_rotation
from paperzoo.shinobi.data import from_world
from paperzoo.shinobi.evaluate import pose_errors, rotation_angle, umeyama


def test_zero_offsets_look_at_the_centre():
    eye = torch.tensor([[1.0, 0.5, 2.0], [-2.0, 1.0, -0.3]])
    cams = CameraMultiplex(eye, torch.zeros(2), torch.full((2,), 20.0), (20, 20))
    rot, e, f = cams.pose(torch.arange(2), torch.zeros(2, dtype=torch.long))
    torch.testing.assert_close(rot[:, :, 2], eye / eye.norm(dim=-1, keepdim=True))  # back axis = d / |d| (Eq. 10)
    torch.testing.assert_close(rot.transpose(1, 2) @ rot, torch.eye(3).expand(2, 3, 3), atol=1e-6, rtol=0)
    assert f.tolist() == pytest.approx([20.0, 20.0])
    # the centre pixel's ray passes through the origin
    o, d = cams.rays(0, 0, torch.tensor([[10.0, 10.0]]))
    assert torch.linalg.cross(d[0], -o[0]).norm() < 1e-5


def test_direction_offsets_turn_the_camera_and_are_limited():
    cams = CameraMultiplex(torch.tensor([[0.0, 0.0, 2.0]]), torch.zeros(1), torch.ones(1), (4, 4))
    with torch.no_grad():
        cams.direction_offset[0, 0] = torch.tensor([0.0, 0.3])  # d_phi: a turn about y
    rot, _, _ = cams.pose(torch.tensor(0), torch.tensor(0))
    assert rot[:, 2].tolist() == pytest.approx([math.sin(0.3), 0.0, math.cos(0.3)], abs=1e-6)
    with torch.no_grad():
        cams.direction_offset[0, 0] = torch.tensor([0.0, 5.0])  # clamped to pi / 2
    rot, _, _ = cams.pose(torch.tensor(0), torch.tensor(0))
    assert rot[:, 2].tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)


def test_multiplex_jitter_and_weights():
    eye = torch.tensor([[0.0, 0.0, 2.0]]).repeat(3, 1)
    cams = CameraMultiplex(eye, torch.zeros(3), torch.ones(3), (8, 8), proposals=4,
                           generator=torch.Generator().manual_seed(0))
    assert torch.equal(cams.eye_init[:, 0], eye)  # proposal 0 is not jittered
    assert cams.eye_init[:, 1:].norm(dim=-1).sub(2).abs().max() < 1e-5  # the others keep the distance
    assert (cams.eye_init[:, 1:] - eye[:, None]).norm(dim=-1).min() > 0
    for _ in range(20):
        cams.update_weights(0, torch.arange(4), torch.tensor([0.5, 0.1, 0.9, 0.7]), sharpness=10.0)
    assert int(cams.best()[0]) == 1 and cams.weights[0].sum() == pytest.approx(1.0)
    top, w = cams.active(0, 2)
    assert top.tolist()[0] == 1 and w.sum() == pytest.approx(1.0)
    assert cams.weights[1].tolist() == pytest.approx([0.25] * 4)  # other views untouched
    with pytest.raises(ConfigError, match="proposals"):
        CameraMultiplex(eye, torch.zeros(3), torch.ones(3), (8, 8), proposals=0)


def test_initial_poses(micro_world):
    gt = from_world(micro_world, "gt", 0)
    cams = CameraMultiplex(gt.eye, gt.roll, gt.focal, gt.size, direction=gt.direction)
    rot, eye, focal = cams.cameras()
    assert rotation_angle(rot, gt.true_rotation).max() < 0.1
    torch.testing.assert_close(eye, gt.true_eye)
    torch.testing.assert_close(focal, gt.true_focal.float(), rtol=1e-5, atol=1e-4)
    bad = from_world(micro_world, "perturbed", 0)
    cams = CameraMultiplex(bad.eye, bad.roll, bad.focal, bad.size, direction=bad.direction)
    angles = rotation_angle(cams.cameras()[0], bad.true_rotation)
    assert ((angles > 14) & (angles < 26)).all()  # turned by 15-25 degrees (about the object, not the camera)
    octant = from_world(micro_world, "octant", 0)
    assert octant.eye.norm(dim=-1).sub(octant_distance(1.0)).abs().max() < 1e-5
    assert (torch.sign(octant.eye) == torch.sign(octant.true_eye)).all()
    assert octant.focal.tolist() == pytest.approx([16.0] * len(octant.focal), rel=1e-3)  # 53.13 degrees: f = H


def test_umeyama_recovers_a_similarity_and_pose_errors_are_zero_at_the_truth():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(10, 3, generator=g, dtype=torch.float64)
    r = random_rotation((30, 60), g)
    dst = 1.7 * src @ r.T + torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    s, rr, t = umeyama(src, dst)
    assert s == pytest.approx(1.7)
    torch.testing.assert_close(rr, r)
    rots = torch.stack([random_rotation((0, 90), g) for _ in range(10)])
    errors = pose_errors(rots, src, (r @ rots), dst)  # the same cameras in another frame and scale
    assert errors["rotation_deg"] < 1e-4 and errors["translation"] < 1e-6
