"""Learning: a short fit from the true cameras raises the novel-view PSNR over an untrained model, and the
fitted model pulls turned test-view cameras back towards the truth (§4's test-view fitting, with the
model frozen).

Measured (2026-12-07; 12 + 3 photographs at 16 px, 200 steps; test cameras turned by 8.0 degrees):
test-view PSNR 19.3 dB after the fit against 10.6 for an untrained model; the test cameras' rotation
error 5.0 degrees after fitting them against the fitted model, 8.4 against the untrained one (an empty
fog gives the cameras almost no gradient). Before the ray interval lost its gradient (ce44b05): 18.5 /
11.8 dB, 4.7 / 7.6 degrees. The gates are +2 dB and 0.85 x the initial error, which the
trained model passes and the untrained one fails. A joint fit from turned training cameras reduces their
error only a little at the tiny budget (README): that is measured by `reproduce`, not asserted here."""

import dataclasses

import pytest
import torch

from paperzoo.shinobi.cameras import CameraMultiplex, random_rotation
from paperzoo.shinobi.config import TINY
from paperzoo.shinobi.data import camera_parameters, from_world
from paperzoo.shinobi.evaluate import fit_test_views, psnr, rotation_angle
from paperzoo.shinobi.train import Fitter
from paperzoo.world import objects3d as o3

CONFIG = dataclasses.replace(TINY, steps=200, random_ray_steps=40, rays=256, samples=24, proposals=1)


def _photos():
    world = o3.collection(o3.ObjectConfig(image_size=16, train_views=12, test_views=3, quadrature=512), 0)
    photos = from_world(world, "gt", 0)
    g = torch.Generator().manual_seed(3)
    for view in range(photos.train, photos.views):  # turn each test camera by 8 degrees about the object
        turn = random_rotation((8.0, 8.0), g)
        eye = turn @ photos.true_eye[view].double()
        direction, roll = camera_parameters(turn @ photos.true_rotation[view].double(), eye)
        photos.eye[view], photos.direction[view], photos.roll[view] = eye.float(), direction.float(), roll.float()
    return photos


def _scores(fitter: Fitter) -> tuple[float, float]:
    """(mean test-view PSNR, mean test-view rotation error in degrees) after fitting the test views."""
    photos = fitter.photos
    fit_test_views(fitter, 200, rays=128)
    test = range(photos.train, photos.views)
    p = sum(psnr(fitter.render_image(v, 0)["rgb"].clamp(0, 1), fitter.target(v, 16)[0]) for v in test) / len(test)
    rot, _, _ = fitter.cameras.cameras(torch.zeros(photos.views, dtype=torch.long))
    return p, float(rotation_angle(rot[photos.train:], photos.true_rotation[photos.train:]).mean())


@pytest.mark.slow
def test_a_short_fit_raises_novel_view_psnr_and_pulls_test_cameras_back():
    photos = _photos()
    start = CameraMultiplex(photos.eye, photos.roll, photos.focal, photos.size, direction=photos.direction)
    initial = float(rotation_angle(start.cameras()[0][photos.train:], photos.true_rotation[photos.train:]).mean())
    assert 7.5 < initial < 8.5
    untrained_psnr, untrained_rot = _scores(Fitter(CONFIG, photos, seed=0))
    trained = Fitter(CONFIG, photos, seed=0)
    trained.fit(progress=False)
    trained_psnr, trained_rot = _scores(trained)
    assert trained_psnr > untrained_psnr + 2.0, (trained_psnr, untrained_psnr)
    assert trained_rot < 0.85 * initial, (trained_rot, initial, untrained_rot)
    assert untrained_rot > 0.85 * initial  # an untrained model cannot place the cameras
