"""What a fit consumes: photographs with masks and initial cameras (and, for evaluation, the true ones).

`from_world` turns a `paperzoo.world.objects3d` collection into `Photos`, with the initial cameras of
one of three settings:

- "gt": the true cameras (Table 1's setting, "GT poses"; the cameras are still optimised);
- "perturbed": the true cameras turned about the object by 15-25 degrees (a random axis per view) and
  their eyes moved by 10% of their distance (card §5, init (a));
- "octant": only the three binary answers left/right, above/below, front/back: the eye on the octant's
  diagonal at SAMURAI's distance, looking at the centre, no roll, the 53.13-degree field of view
  (Table 2's "Directions" setting).

Train and test photographs sit in one `Photos` (test ones after the train ones): the test views' cameras,
illumination and embeddings are fitted with the rest of the model frozen (§4).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.shinobi.cameras import INITIAL_FOV_DEG, octant_direction, octant_distance, random_rotation, roll_of
from paperzoo.world.objects3d import Collection, View, octant

INITS = ("gt", "perturbed", "octant")


@dataclass
class Photos:
    images: Tensor  # (V, H, W, 3) in [0, 1]
    masks: Tensor  # (V, H, W) in [0, 1]
    eye: Tensor  # (V, 3) initial cameras
    direction: Tensor  # (V, 2) initial (theta, phi) offsets of the viewing direction from the eye's
    roll: Tensor  # (V,)
    focal: Tensor  # (V,) pixels
    train: int  # the first `train` photographs are the training ones
    true_rotation: Tensor | None = None  # (V, 3, 3) ground truth, where known
    true_eye: Tensor | None = None
    true_focal: Tensor | None = None

    @property
    def views(self) -> int:
        return self.images.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        return self.images.shape[1], self.images.shape[2]


def angles(v: Tensor) -> tuple[Tensor, Tensor]:
    """(theta, phi) = (arcsin(v_y), atan2(v_x, v_z)) of directions (..., 3), Eqs. 8-9."""
    unit = v / v.norm(dim=-1, keepdim=True)
    return torch.asin(unit[..., 1].clamp(-1, 1)), torch.atan2(unit[..., 0], unit[..., 2])


def camera_parameters(rotation: Tensor, eye: Tensor) -> tuple[Tensor, Tensor]:
    """The (direction offset (..., 2), roll (...)) that put a look-at + direction camera at `eye` onto `rotation`."""
    tb, pb = angles(rotation[..., :, 2])
    te, pe = angles(eye)
    wrap = lambda a: torch.remainder(a + math.pi, 2 * math.pi) - math.pi  # noqa: E731
    return torch.stack([tb - te, wrap(pb - pe)], -1), roll_of(rotation)


def initial_cameras(views: list[View], init: str, seed: int, bound: float = 1.0) -> tuple[Tensor, ...]:
    """(eye, direction, roll, focal) of the views' initial cameras in setting `init`."""
    if init not in INITS:
        raise ConfigError(f"init: {init!r}; expected one of {', '.join(INITS)}")
    rot = torch.stack([v.camera.rotation for v in views])
    eye = torch.stack([v.camera.position for v in views])
    focal = torch.tensor([v.camera.focal for v in views], dtype=torch.float64)
    if init == "perturbed":
        g = torch.Generator().manual_seed(10_000 + seed)
        turns = torch.stack([random_rotation((15.0, 25.0), g) for _ in views])
        rot = turns @ rot
        eye = (turns @ eye[..., None]).squeeze(-1)
        noise = torch.randn(eye.shape, generator=g, dtype=torch.float64)
        eye = eye + 0.1 * eye.norm(dim=-1, keepdim=True) * noise / noise.norm(dim=-1, keepdim=True)
    if init == "octant":
        h = views[0].camera.size[0]
        eye = torch.stack([octant_direction(octant(v.camera.position)).double() for v in views]) * octant_distance(bound)
        return (eye, torch.zeros(len(views), 2, dtype=torch.float64), torch.zeros(len(views), dtype=torch.float64),
                torch.full((len(views),), h / 2 / math.tan(math.radians(INITIAL_FOV_DEG) / 2), dtype=torch.float64))
    direction, roll = camera_parameters(rot, eye)
    return eye, direction, roll, focal


def from_world(collection: Collection, init: str = "perturbed", seed: int = 0) -> Photos:
    views = collection.train + collection.test
    eye, direction, roll, focal = initial_cameras(views, init, seed)
    return Photos(
        images=torch.tensor(np.stack([v.image for v in views])), masks=torch.tensor(np.stack([v.mask for v in views])),
        eye=eye.float(), direction=direction.float(), roll=roll.float(), focal=focal.float(),
        train=len(collection.train),
        true_rotation=torch.stack([v.camera.rotation for v in views]).float(),
        true_eye=torch.stack([v.camera.position for v in views]).float(),
        true_focal=torch.tensor([v.camera.focal for v in views]))


# ---------------------------------------------------------------------------- photographs from disk

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.float32) / 255
    except (UnidentifiedImageError, OSError) as e:
        raise InputError(f"image {path}: cannot be read ({e})") from None


def _read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            mask = np.asarray(ImageOps.exif_transpose(im).convert("L"), dtype=np.float32) / 255
    except (UnidentifiedImageError, OSError) as e:
        raise InputError(f"mask {path}: cannot be read ({e})") from None
    if mask.shape != size:
        raise InputError(f"mask {path}: {mask.shape[1]}x{mask.shape[0]}, but its image is {size[1]}x{size[0]}")
    return (mask > 0.5).astype(np.float32)


def square(image: np.ndarray, mask: np.ndarray, size: int, focal: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Pad to a square about the image centre (white; the mask says what is object), resize to `size`; the
    principal point stays at the centre and the focal length scales with the image."""
    h, w = mask.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    img = np.ones((side, side, 3), dtype=np.float32)
    msk = np.zeros((side, side), dtype=np.float32)
    img[top:top + h, left:left + w], msk[top:top + h, left:left + w] = image, mask
    t_img = torch.tensor(img).permute(2, 0, 1)[None]
    t_msk = torch.tensor(msk)[None, None]
    resize = lambda x: torch.nn.functional.interpolate(x, size=(size, size), mode="area")[0]  # noqa: E731
    return resize(t_img).permute(1, 2, 0).numpy(), resize(t_msk)[0].numpy(), focal * size / side


def _octant_label(value, where: str) -> tuple[bool, bool, bool]:
    words = value.split() if isinstance(value, str) else list(value)
    if len(words) != 3:
        raise InputError(f"{where}: expected three answers (right|left, above|below, front|back), got {value!r}")
    answers = []
    for word, (yes, no) in zip(words, (("right", "left"), ("above", "below"), ("front", "back"))):
        if isinstance(word, bool):
            answers.append(word)
        elif str(word).lower() in (yes, no):
            answers.append(str(word).lower() == yes)
        else:
            raise InputError(f"{where}: {word!r} is not {yes} or {no}")
    return tuple(answers)


def load_folder(folder: str | Path, size: int = 100, test_every: int = 0) -> tuple[Photos, list[str]]:
    """`fit IMAGES_DIR`: FOLDER/images/NAME.{png,jpg} with FOLDER/masks/NAME.png, and optionally rough cameras:

    - FOLDER/poses.json: {"NAME": {"rotation": 3x3 camera-to-world (columns right, up, back; the camera looks
      along -back), "position": [x, y, z], "focal": pixels}} in a frame with the object at the origin, +y up;
    - FOLDER/octants.json: {"NAME": "right above front"} (three answers: right|left, above|below, front|back);
    - neither: the cameras start on a ring at 20 degrees elevation, evenly spaced in file order (a guess).
    Every test_every-th photograph (0: none) is held out as a test view. Returns the photos and their names."""
    folder = Path(folder)
    if not (folder / "images").is_dir():
        raise InputError(f"fit: {folder} has no images/ folder (expected {folder}/images/NAME.png and masks/NAME.png)")
    names = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not names:
        raise InputError(f"fit: {folder}/images has no .png or .jpg files")
    poses, octants = folder / "poses.json", folder / "octants.json"
    pose_data = json.loads(poses.read_text()) if poses.is_file() else None
    octant_data = json.loads(octants.read_text()) if octants.is_file() else None
    images, masks, eyes, dirs, rolls, focals = [], [], [], [], [], []
    fov_focal = lambda side: side / 2 / math.tan(math.radians(INITIAL_FOV_DEG) / 2)  # noqa: E731
    for k, path in enumerate(names):
        mask_path = folder / "masks" / (path.stem + ".png")
        if not mask_path.is_file():
            raise InputError(f"fit: {path.name} has no mask (expected {mask_path}); SHINOBI needs object masks")
        image = _read_rgb(path)
        mask = _read_mask(mask_path, image.shape[:2])
        side = max(image.shape[:2])
        if pose_data is not None:
            entry = pose_data.get(path.stem)
            if entry is None:
                raise InputError(f"fit: {poses} has no camera for {path.stem}")
            rot = torch.tensor(entry["rotation"], dtype=torch.float64)
            eye = torch.tensor(entry["position"], dtype=torch.float64)
            direction, roll = camera_parameters(rot, eye)
            focal = float(entry.get("focal", fov_focal(side)))
        else:
            if octant_data is not None:
                if path.stem not in octant_data:
                    raise InputError(f"fit: {octants} has no answers for {path.stem}")
                eye = octant_direction(_octant_label(octant_data[path.stem], f"{octants}: {path.stem}")).double()
            else:
                a, el = 2 * math.pi * k / len(names), math.radians(20)
                eye = torch.tensor([math.cos(el) * math.sin(a), math.sin(el), math.cos(el) * math.cos(a)],
                                   dtype=torch.float64)
            eye = eye * octant_distance(1.0)
            direction, roll, focal = torch.zeros(2, dtype=torch.float64), torch.zeros((), dtype=torch.float64), fov_focal(side)
        img, msk, focal = square(image, mask, size, focal)
        images.append(img), masks.append(msk), eyes.append(eye), dirs.append(direction), rolls.append(roll)
        focals.append(focal)
    order = _train_first(len(names), test_every)
    pick = lambda xs: [xs[i] for i in order]  # noqa: E731
    photos = Photos(torch.tensor(np.stack(pick(images))), torch.tensor(np.stack(pick(masks))),
                    torch.stack(pick(eyes)).float(), torch.stack(pick(dirs)).float(), torch.stack(pick(rolls)).float(),
                    torch.tensor(pick(focals), dtype=torch.float32),
                    train=len(names) - sum(1 for i in range(len(names)) if _held_out(i, test_every)))
    return photos, [names[i].stem for i in order]


def _held_out(i: int, every: int) -> bool:
    return every > 0 and i % every == every - 1


def _train_first(n: int, every: int) -> list[int]:
    return [i for i in range(n) if not _held_out(i, every)] + [i for i in range(n) if _held_out(i, every)]


def navi_camera(q: list[float], t: list[float]) -> tuple[Tensor, Tensor]:
    """NAVI's extrinsics (x_cam = R(q) x_obj + t, OpenCV axes: x right, y down, z forward) as our
    camera-to-object rotation (columns right, up, back) and eye position."""
    w, x, y, z = (float(v) for v in q)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    r = torch.tensor([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]], dtype=torch.float64)
    eye = -r.T @ torch.tensor(t, dtype=torch.float64)
    c2w = r.T.clone()
    c2w[:, 1:] = -c2w[:, 1:]  # (right, down, forward) -> (right, up, back)
    return c2w, eye


def load_navi(root: str | Path, object_id: str, size: int = 100, init: str = "octant", seed: int = 0,
              scale: float | None = None) -> Photos:
    """NAVI v1.0's in-the-wild collection ROOT/OBJECT/wild_set/{annotations.json, images/, masks/}: "train"
    records are training views, "val" ones test views (§4). The object is normalised to the unit sphere:
    by the scan's vertices (ROOT/OBJECT/3d_scan/OBJECT.obj) when present, else so the median camera
    distance is 2.5 (`scale` overrides both). Cameras start as `init` says (gt | perturbed | octant)."""
    folder = Path(root) / object_id / "wild_set"
    ann = folder / "annotations.json"
    if not ann.is_file():
        raise InputError(f"navi: no {ann} (expected ROOT/OBJECT/wild_set/annotations.json)")
    try:
        records = json.loads(ann.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"navi: {ann} is not valid JSON ({e})") from None
    if not records:
        raise InputError(f"navi: {ann} lists no images")
    records = sorted(records, key=lambda r: (r.get("split", "train") != "train", r["filename"]))
    cams = [navi_camera(r["camera"]["q"], r["camera"]["t"]) for r in records]
    if scale is None:
        scan = Path(root) / object_id / "3d_scan" / f"{object_id}.obj"
        if scan.is_file():
            v = np.array([[float(x) for x in line.split()[1:4]] for line in scan.read_text().splitlines()
                          if line.startswith("v ")])
            scale = 1 / float(np.linalg.norm(v - (v.min(0) + v.max(0)) / 2, axis=1).max())
        else:
            scale = 2.5 / float(np.median([float(e.norm()) for _, e in cams]))
    images, masks, focals, rots, eyes = [], [], [], [], []
    for r, (rot, eye) in zip(records, cams):
        image = _read_rgb(folder / "images" / r["filename"])
        mask = _read_mask(folder / "masks" / (Path(r["filename"]).stem + ".png"), image.shape[:2])
        img, msk, focal = square(image, mask, size, float(r["camera"]["focal_length"]))
        images.append(img), masks.append(msk), focals.append(focal), rots.append(rot), eyes.append(eye * scale)
    train = sum(1 for r in records if r.get("split", "train") == "train")
    rot, eye, focal = torch.stack(rots), torch.stack(eyes), torch.tensor(focals, dtype=torch.float64)
    views = [_PoseOnly(r_, e_, f_, size) for r_, e_, f_ in zip(rot, eye, focal)]
    e0, d0, r0, f0 = initial_cameras(views, init, seed)
    return Photos(torch.tensor(np.stack(images)), torch.tensor(np.stack(masks)), e0.float(), d0.float(), r0.float(),
                  f0.float(), train, rot.float(), eye.float(), focal.float())


@dataclass
class _PoseOnly:
    """A view with a camera and nothing else (for `initial_cameras` on real data)."""

    rotation: Tensor
    position: Tensor
    focal: float
    size_: int

    @property
    def camera(self):
        from paperzoo.world.objects3d import Camera

        return Camera(self.rotation, self.position, float(self.focal), (self.size_, self.size_))
