"""Photographs from disk: an images/masks folder (with poses, octants or neither) and the NAVI layout,
written in the test from the world's renders; and one clear error for each bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from paperzoo.core.errors import InputError
from paperzoo.shinobi.data import load_folder, load_navi, navi_camera
from paperzoo.shinobi.evaluate import rotation_angle


def _save(view, images, masks, name):
    Image.fromarray((view.image * 255).round().astype(np.uint8)).save(images / f"{name}.png")
    Image.fromarray((view.mask * 255).astype(np.uint8)).save(masks / f"{name}.png")


def _folder(tmp_path, world, poses=None, octants=None):
    (tmp_path / "images").mkdir(parents=True)
    (tmp_path / "masks").mkdir()
    views = world.train + world.test
    for i, v in enumerate(views):
        _save(v, tmp_path / "images", tmp_path / "masks", f"{i:03d}")
    if poses:
        (tmp_path / "poses.json").write_text(json.dumps({f"{i:03d}": {
            "rotation": v.camera.rotation.tolist(), "position": v.camera.position.tolist(), "focal": v.camera.focal}
            for i, v in enumerate(views)}))
    if octants:
        (tmp_path / "octants.json").write_text(json.dumps({f"{i:03d}": " ".join([
            "right" if v.camera.position[0] > 0 else "left", "above" if v.camera.position[1] > 0 else "below",
            "front" if v.camera.position[2] > 0 else "back"]) for i, v in enumerate(views)}))
    return views


def test_folder_with_poses_round_trips_the_cameras(tmp_path, micro_world):
    views = _folder(tmp_path, micro_world, poses=True)
    photos, names = load_folder(tmp_path, size=16, test_every=4)
    assert photos.views == len(views) and photos.train == len(views) - 2 and names[-1] == "007"
    from paperzoo.shinobi.cameras import CameraMultiplex
    cams = CameraMultiplex(photos.eye, photos.roll, photos.focal, photos.size, direction=photos.direction)
    rot, eye, focal = cams.cameras()
    order = [int(n) for n in names]
    truth = torch.stack([views[i].camera.rotation for i in order]).float()
    assert rotation_angle(rot, truth).max() < 0.1
    np.testing.assert_allclose(photos.masks[0].numpy(), views[order[0]].mask, atol=1e-6)


def test_folder_with_octants_or_nothing(tmp_path, micro_world):
    views = _folder(tmp_path / "a", micro_world, octants=True)
    photos, _ = load_folder(tmp_path / "a", size=8)
    assert (torch.sign(photos.eye) == torch.sign(torch.stack([v.camera.position for v in views]).float())).all()
    assert photos.images.shape == (len(views), 8, 8, 3)
    _folder(tmp_path / "b", micro_world)
    ring, _ = load_folder(tmp_path / "b", size=8)
    assert ring.eye[:, 1].std() < 1e-6 and ring.eye[:, 1].mean() > 0  # one ring at 20 degrees


def test_bad_folders_get_one_clear_error(tmp_path, micro_world):
    with pytest.raises(InputError, match="no images/ folder"):
        load_folder(tmp_path)
    (tmp_path / "images").mkdir()
    with pytest.raises(InputError, match="no .png or .jpg"):
        load_folder(tmp_path)
    _save(micro_world.train[0], tmp_path / "images", tmp_path, "x")
    with pytest.raises(InputError, match="has no mask"):
        load_folder(tmp_path)
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((5, 7), dtype=np.uint8)).save(tmp_path / "masks" / "x.png")
    with pytest.raises(InputError, match="but its image is"):
        load_folder(tmp_path)
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(tmp_path / "masks" / "x.png")
    (tmp_path / "images" / "y.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(tmp_path / "masks" / "y.png")
    with pytest.raises(InputError, match="y.png: cannot be read"):
        load_folder(tmp_path)


def _to_navi(rotation, eye):
    """Our camera as NAVI's (q, t): x_cam = R x + t with OpenCV axes."""
    opencv = rotation.clone()
    opencv[:, 1:] = -opencv[:, 1:]
    r = opencv.T
    x, y, z, w = Rotation.from_matrix(r.numpy()).as_quat()
    return [w, x, y, z], (-r @ eye).tolist()


def test_navi_layout(tmp_path, micro_world):
    root = tmp_path / "navi"
    wild = root / "toy" / "wild_set"
    (wild / "images").mkdir(parents=True)
    (wild / "masks").mkdir()
    views, records = micro_world.train + micro_world.test, []
    for i, v in enumerate(views):
        name = f"{i:03d}"
        Image.fromarray((v.image * 255).round().astype(np.uint8)).save(wild / "images" / f"{name}.jpg", quality=95)
        Image.fromarray((v.mask * 255).astype(np.uint8)).save(wild / "masks" / f"{name}.png")
        q, t = _to_navi(v.camera.rotation, v.camera.position * 40.0)  # NAVI in other units: 40x ours
        records.append({"object_id": "toy", "camera": {"q": q, "t": t, "focal_length": v.camera.focal},
                        "filename": f"{name}.jpg", "image_size": [16, 16],
                        "split": "train" if i < len(micro_world.train) else "val"})
    (wild / "annotations.json").write_text(json.dumps(records))
    photos = load_navi(root, "toy", size=16, init="gt")
    assert photos.train == len(micro_world.train)
    truth = torch.stack([v.camera.rotation for v in views]).float()
    assert rotation_angle(photos.true_rotation, truth).max() < 0.05
    # no scan: the median camera distance becomes 2.5, ours is about 2.5 already
    dist = torch.stack([v.camera.position for v in views]).norm(dim=-1)
    assert float(np.median(photos.true_eye.norm(dim=-1).numpy())) == pytest.approx(2.5, rel=1e-4)
    assert (photos.true_eye.norm(dim=-1) / dist.float()).std() < 1e-4
    with pytest.raises(InputError, match="annotations.json"):
        load_navi(root, "missing")
    c2w, eye = navi_camera([1, 0, 0, 0], [0, 0, 3])  # identity rotation: the camera at -3 z looks along +z
    assert eye.tolist() == [0, 0, -3] and c2w[:, 2].tolist() == [0, 0, -1]
