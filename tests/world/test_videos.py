"""The moving-shapes video world: determinism, motions, actions, captions, tracking, caching."""

from itertools import islice

import numpy as np
import pytest

from paperzoo.core.errors import ConfigError, InputError
from paperzoo.world.scenes import size_extent
from paperzoo.world.videos import (
    MOTIONS, VIDEO_VOCAB, ClipBatch, VideoConfig, clip, clip_stream, clips_cache_path, load_clips, make_clips,
    track_colours,
)

CONFIG = VideoConfig()


@pytest.fixture(scope="module")
def batch() -> ClipBatch:
    return make_clips(CONFIG, seed=0, n=96)


def test_clips_are_pure_functions_of_seed_split_index():
    a, b = clip(CONFIG, 3, 5), clip(CONFIG, 3, 5)
    assert np.array_equal(a.frames, b.frames) and a.caption == b.caption
    assert not np.array_equal(a.frames, clip(CONFIG, 3, 5, split="eval").frames)
    assert not np.array_equal(a.frames, clip(CONFIG, 4, 5).frames)


def test_objects_stay_inside_and_colours_are_distinct(batch):
    for i in range(len(batch)):
        k = batch.n_objects[i]
        assert 1 <= k <= 3
        colours = batch.attributes[i, :k, 1]
        assert len(set(colours.tolist())) == k
        for j in range(k):
            half = size_extent(CONFIG.sizes[batch.attributes[i, j, 2]], 32) / 2
            c = batch.centres[i, j]
            assert (c >= half - 1e-4).all() and (c <= 32 - half + 1e-4).all()


def test_each_motion_moves_the_way_its_name_says(batch):
    """bounce: fast, straight between walls; orbit: constant distance from a centre; drift: slow, straight."""
    seen = set()
    for i in range(len(batch)):
        for j in range(batch.n_objects[i]):
            motion = MOTIONS[batch.attributes[i, j, 3]]
            seen.add(motion)
            p = batch.centres[i, j].astype(np.float64)
            speed = np.linalg.norm(np.diff(p, axis=0), axis=1)
            if motion == "drift":
                assert np.allclose(speed, speed[0], atol=1e-4) and 0.5 <= speed[0] <= 0.9 + 1e-4
            elif motion == "bounce":
                # reflections can shorten a step; the unreflected steps carry the full speed
                assert 1.5 - 1e-4 <= speed.max() <= 2.5 + 1e-4
            else:
                # the centre is where the perpendicular bisectors of the chords meet: fit a circle
                a = np.c_[2 * p, np.ones(len(p))]
                sol, *_ = np.linalg.lstsq(a, (p**2).sum(1), rcond=None)
                r = np.sqrt(sol[2] + (sol[:2] ** 2).sum())
                assert np.allclose(np.linalg.norm(p - sol[:2], axis=1), r, atol=1e-3) and 4 - 1e-3 <= r <= 7 + 1e-3
    assert seen == set(MOTIONS)


def test_actions_are_object_zero_velocity(batch):
    assert np.all(batch.actions[:, 0] == 0)
    assert np.allclose(batch.actions[:, 1:], np.diff(batch.centres[:, 0], axis=1), atol=1e-5)


def test_caption_names_each_object_and_its_motion(batch):
    verbs = {"bounce": "bounces", "orbit": "orbits", "drift": "drifts"}
    for i in range(len(batch)):
        k = batch.n_objects[i]
        parts = batch.captions[i].split(" and ")
        assert len(parts) == k
        for j, part in enumerate(parts):
            s, c, _, m = batch.attributes[i, j]
            assert part == f"a {CONFIG.colours[c]} {CONFIG.shapes[s]} {verbs[MOTIONS[m]]}"
        ids = batch.token_ids[i][batch.token_mask[i]]
        assert " ".join(VIDEO_VOCAB[t] for t in ids) == batch.captions[i]


def test_colour_tracks_recover_the_trajectories(batch):
    """Unoccluded objects are tracked to within 2 px of their box centre (a shape's centroid is not its box centre)."""
    errors = []
    for i in range(len(batch)):
        k = batch.n_objects[i]
        track = track_colours(batch.frames[i], [CONFIG.colours[c] for c in batch.attributes[i, :k, 1]])
        errors.append(np.nanmean(np.linalg.norm(track - batch.centres[i, :k], axis=-1)))
    assert np.mean(errors) < 1.0 and np.max(errors) < 2.5
    empty = np.full((8, 32, 32, 3), 25, np.uint8)
    assert np.isnan(track_colours(empty, ["red"])).all()


def test_stream_batches_follow_clip_indices():
    first, second = islice(clip_stream(CONFIG, 1, 4), 2)
    resumed = next(clip_stream(CONFIG, 1, 4, start_batch=1))
    assert np.array_equal(second.frames, resumed.frames)
    assert np.array_equal(first.frames[2], clip(CONFIG, 1, 2).frames)


def test_cache_round_trip_and_corrupt_file_is_regenerated(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path))
    a = load_clips(CONFIG, 0, 6)
    path = clips_cache_path(CONFIG, 0, 6)
    assert path.exists()
    b = load_clips(CONFIG, 0, 6)
    assert np.array_equal(a.frames, b.frames) and a.captions == b.captions
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable clip batch"):
        ClipBatch.load(path)
    assert np.array_equal(load_clips(CONFIG, 0, 6).frames, a.frames)


def test_bad_configs_and_inputs_get_one_clear_error():
    with pytest.raises(ConfigError, match="motions"):
        VideoConfig(motions=("spin",))
    with pytest.raises(ConfigError, match="distinct colours"):
        VideoConfig(colours=("red", "blue"), max_objects=3)
    with pytest.raises(ConfigError, match="too small"):
        VideoConfig(image_size=8)
    with pytest.raises(InputError, match="split"):
        clip(CONFIG, 0, 0, split="dev")
