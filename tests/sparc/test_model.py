import dataclasses

import pytest
import torch

import paperzoo.sparc as sparc
from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.world.scenes import SceneConfig, make_scenes


def batch(n=4):
    b = make_scenes(SceneConfig(), 0, n)
    return b.images_float(), torch.from_numpy(b.token_ids).long(), torch.from_numpy(b.token_mask)


@pytest.mark.parametrize("head", ["paper", "pseudocode"])
def test_shapes_and_global_heads(head):
    torch.manual_seed(0)
    model = sparc.SparcModel(dataclasses.replace(sparc.config("tiny"), global_head=head))
    images, ids, mask = batch()
    out = model(images, ids, mask)
    assert out["v_patches"].shape == (4, 36, 64) and out["t_tokens"].shape == (4, 16, 64)
    assert out["v_global"].shape == (4, 64) and out["t_global"].shape == (4, 64)
    if head == "pseudocode":  # App. C: the mean of the adapted embeddings
        assert torch.allclose(out["v_global"], out["v_patches"].mean(1), atol=1e-6)
        m = mask.float()[..., None]
        assert torch.allclose(out["t_global"], (out["t_tokens"] * m).sum(1) / m.sum(1), atol=1e-6)
    assert model.segmentation_patches(images).shape == (4, 36, 64)
    losses = model.loss(images, ids, mask)
    losses["loss"].backward()
    assert model.log_logit_scale.grad is not None
    assert torch.isclose(losses["loss"], 0.5 * losses["global"] + 1.0 * losses["fine"])


def test_text_encoder_ignores_pads():
    torch.manual_seed(0)
    model = sparc.SparcModel("tiny").eval()
    images, ids, mask = batch(2)
    ids2 = ids.clone()
    ids2[~mask] = 7  # change what sits in the pad positions
    a = model.encode_text(ids, mask)
    b = model.encode_text(ids2, mask)
    assert torch.allclose(a["t_global"], b["t_global"], atol=1e-5)
    assert torch.allclose(a["t_tokens"][mask], b["t_tokens"][mask], atol=1e-5)


def test_logit_scale_is_clamped_at_100():
    model = sparc.SparcModel("tiny")
    with torch.no_grad():
        model.log_logit_scale.fill_(10.0)
    assert model.logit_scale().item() == 100.0
    sep = sparc.SparcModel(dataclasses.replace(sparc.config("tiny"), separate_temperatures=True))
    with torch.no_grad():
        sep.log_logit_scale_fine.fill_(1.0)
    assert sep.logit_scale("fine").item() == pytest.approx(torch.e)
    assert sep.logit_scale().item() == pytest.approx(1 / 0.07, rel=1e-5)


def test_clip_baseline_skips_fine_loss():
    model = sparc.SparcModel(sparc.config("tiny").clip())
    out = model.loss(*batch())
    assert out["fine"].item() == 0.0 and torch.isclose(out["loss"], 0.5 * out["global"])


def test_bad_inputs_get_one_clear_error():
    model = sparc.SparcModel("tiny")
    images, ids, mask = batch(2)
    with pytest.raises(InputError, match=r"images: expected a float tensor \(B, 3, 48, 48\).*shape \(2, 1, 48, 48\)"):
        model.encode_image(images[:, :1])
    with pytest.raises(InputError, match="images: expected"):
        model.encode_image((images * 255).to(torch.uint8))
    with pytest.raises(InputError, match="shape"):
        model.encode_image(torch.zeros(2, 3, 64, 64))
    with pytest.raises(InputError, match="token_mask"):
        model.encode_text(ids, mask.long())
    with pytest.raises(InputError, match="exceeds the text context length 16"):
        model.encode_text(torch.zeros(2, 20, dtype=torch.long), torch.ones(2, 20, dtype=torch.bool))
    with pytest.raises(InputError, match="ids must lie in"):
        model.encode_text(ids + 1000, mask)


def test_save_load_round_trip_and_errors(tmp_path):
    torch.manual_seed(0)
    model = sparc.SparcModel("tiny").eval()
    path = model.save_pretrained(tmp_path / "m")
    loaded = sparc.SparcModel.from_pretrained(path).eval()
    images, ids, mask = batch(2)
    with torch.no_grad():
        assert torch.equal(model(images, ids, mask)["v_global"], loaded(images, ids, mask)["v_global"])
    assert loaded.config == model.config
    with pytest.raises(CheckpointError, match="does not exist"):
        sparc.SparcModel.from_pretrained(tmp_path / "missing")
    (path / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        sparc.SparcModel.from_pretrained(path)


def test_objective_with_gathered_globals_and_separate_temperature():
    """Under DDP, L_g sees the gathered batch while L_f stays per-sample; simulate two equal
    ranks by a gather that stacks a detached copy."""
    torch.manual_seed(0)
    model = sparc.SparcModel(dataclasses.replace(sparc.config("tiny"), separate_temperatures=True))
    images, ids, mask = batch(4)
    out = model(images, ids, mask)
    gathered = model.objective(out, mask, gather=lambda x: torch.cat([x, x.detach().flip(0)]))
    local = model.objective(out, mask)
    assert torch.equal(gathered["fine"], local["fine"])
    expected = sparc.global_loss(torch.cat([out["v_global"], out["v_global"].flip(0)]),
                                 torch.cat([out["t_global"], out["t_global"].flip(0)]), model.logit_scale())
    assert torch.allclose(gathered["global"], expected)
    with torch.no_grad():
        model.log_logit_scale_fine.fill_(0.0)  # tau_f = 1 changes L_f only
    changed = model.objective(out, mask)
    assert torch.equal(changed["global"], local["global"]) and not torch.equal(changed["fine"], local["fine"])


def test_fine_ignore_ids_drop_tokens_from_fine_loss_only():
    from paperzoo.world.scenes import WORD_TO_ID

    torch.manual_seed(0)
    images, ids, mask = batch(4)
    stop = (WORD_TO_ID["a"], WORD_TO_ID["of"])
    model = sparc.SparcModel(dataclasses.replace(sparc.config("tiny"), fine_ignore_ids=stop))
    out = model(images, ids, mask)
    expected = mask & (ids != stop[0]) & (ids != stop[1])
    assert torch.equal(out["fine_mask"], expected) and expected.sum() < mask.sum()
    losses = model.objective(out, mask)
    assert torch.allclose(losses["fine"], sparc.fine_grained_loss(out["v_patches"], out["t_tokens"], expected, model.logit_scale()))
    assert torch.allclose(losses["global"], sparc.global_loss(out["v_global"], out["t_global"], model.logit_scale()))
