"""The shared diffusion parts: the schedule against the paper's formulas, the tokenizer, the
model's loss against Eq. 14 written out, guidance, LoRA and checkpoints."""

import json

import pytest
import torch

from paperzoo.core.errors import CheckpointError, ConfigError
from paperzoo.diffusion import TextToImage, config, generate
from paperzoo.diffusion import lora as L
from paperzoo.diffusion.schedule import ddim_step_reference, sampling_scheduler, training_scheduler
from paperzoo.diffusion.text_encoder import PAD_ID, UNK_ID, tokenize
from paperzoo.diffusion.train import Recipe, train


@pytest.fixture
def micro():
    torch.manual_seed(0)
    return TextToImage("micro").eval()


@pytest.mark.parametrize("eta", [0.0, 0.7])
@pytest.mark.parametrize("schedule", ["squaredcos_cap_v2", "linear"])
def test_ddim_step_equals_song_et_al_eq_12(eta, schedule):
    cfg = config("micro", beta_schedule=schedule)
    sched = sampling_scheduler(cfg)
    sched.set_timesteps(10)
    abar = training_scheduler(cfg).alphas_cumprod
    g = torch.Generator().manual_seed(1)
    ts = [int(t) for t in sched.timesteps]
    assert ts[0] == cfg.train_timesteps - 1  # "trailing": the first step starts at t = T - 1
    x = torch.randn(2, 3, 8, 8, generator=g)
    for k, t in enumerate(ts):
        eps = torch.randn(x.shape, generator=g)
        noise = torch.randn(x.shape, generator=g)
        t_prev = ts[k + 1] if k + 1 < len(ts) else -1
        ours = ddim_step_reference(eps, t, t_prev, x, abar, eta=eta, noise=noise)
        theirs = sched.step(eps, t, x, eta=eta, variance_noise=noise).prev_sample
        torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-5)
        x = ours


def test_training_noise_is_ho_et_al_eq_4():
    cfg = config("micro")
    sched = training_scheduler(cfg)
    x0, eps = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    a = sched.alphas_cumprod[t].view(4, 1, 1, 1)
    torch.testing.assert_close(sched.add_noise(x0, eps, t), a.sqrt() * x0 + (1 - a).sqrt() * eps)


@pytest.mark.parametrize("kind", ["epsilon", "sample", "v_prediction"])
def test_loss_is_eq_14_written_out(micro, kind):
    """With caption dropout off, the loss is || eps - eps_theta(sqrt(abar) x0 + sqrt(1-abar) eps, t, c) ||^2
    for the t and eps the generator draws (the target x0 for an x0 model, v = sqrt(abar) eps -
    sqrt(1-abar) x0 for a v model)."""
    micro.config = config("micro", caption_dropout=0.0, prediction_type=kind)
    x0 = torch.rand(3, 3, 32, 32) * 2 - 1
    ids, mask = micro.tokenize(["a red circle", "a small blue square in pixel style", ""])
    loss = micro.loss(x0, ids, mask, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    t = torch.randint(0, 1000, (3,), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    a = micro.alphas_cumprod[t].view(3, 1, 1, 1)
    target = {"epsilon": eps, "sample": x0, "v_prediction": a.sqrt() * eps - (1 - a).sqrt() * x0}[kind]
    with torch.no_grad():
        expected = (target - micro(a.sqrt() * x0 + (1 - a).sqrt() * eps, t, ids, mask)).pow(2).mean()
    torch.testing.assert_close(loss.detach(), expected)


def test_caption_dropout_empties_captions(micro):
    micro.config = config("micro", caption_dropout=0.5)
    ids, mask = micro.tokenize(["a red circle"] * 400)
    d_ids, d_mask = micro.drop_captions(ids, mask, torch.Generator().manual_seed(0))
    dropped = (d_ids == PAD_ID).all(1)
    assert 150 < int(dropped.sum()) < 250
    assert d_mask[dropped].sum(1).eq(1).all() and d_mask[dropped][:, 0].all()
    assert torch.equal(d_ids[~dropped], ids[~dropped])


def test_tokenize_unknown_words_truncation_and_empty():
    cfg = config("micro")
    ids, mask = tokenize(["A large RED circle, in pixel style!", "I want to see a dog", "", " ".join(["red"] * 20)], cfg)
    vocab = cfg.vocab
    assert [vocab[i] for i in ids[0][mask[0]]] == ["a", "large", "red", "circle", "in", "pixel", "style"]
    assert ids[1].tolist()[:6] == [UNK_ID, UNK_ID, UNK_ID, UNK_ID, vocab.index("a"), UNK_ID]
    assert mask[2].tolist() == [True] + [False] * (cfg.max_tokens - 1) and ids[2].eq(PAD_ID).all()
    assert mask[3].all()  # cut at max_tokens, as CLIP cuts at 77


def test_guidance_one_is_the_conditional_model_and_noise_fixes_the_sample(micro):
    noise = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a = generate(micro, ["a red circle", "a blue cross"], steps=3, guidance=1.0, noise=noise)
    b = generate(micro, ["a red circle", "a blue cross"], steps=3, guidance=1.0, noise=noise)
    assert torch.equal(a, b) and a.shape == (2, 3, 32, 32) and a.abs().max() <= 1
    c = generate(micro, ["a red circle", "a blue cross"], steps=3, guidance=4.0, noise=noise)
    assert not torch.allclose(a, c)
    with pytest.raises(ValueError, match="noise"):
        generate(micro, ["a red circle"], steps=2, noise=noise)


def test_guided_step_combines_the_two_predictions(micro, monkeypatch):
    """With guidance w, the model output fed to the scheduler is eps_u + w (eps_c - eps_u)."""
    seen = []
    orig = micro.denoiser.forward

    def spy(x, t, states, mask):
        out = orig(x, t, states, mask)
        seen.append(out)
        return out

    monkeypatch.setattr(micro.denoiser, "forward", spy)
    steps = []
    import diffusers

    orig_step = diffusers.DDIMScheduler.step
    monkeypatch.setattr(diffusers.DDIMScheduler, "step", lambda self, out, t, x, **k: steps.append(out) or orig_step(self, out, t, x, **k))
    generate(micro, ["a red circle"], steps=1, guidance=2.5, noise=torch.zeros(1, 3, 32, 32))
    eps_c, eps_u = seen[0].chunk(2)
    torch.testing.assert_close(steps[0], eps_u + 2.5 * (eps_c - eps_u))


def test_lora_starts_as_identity_and_folds_exactly(micro):
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([5, 700])
    ids, mask = micro.tokenize(["a red circle", "a blue cross in photo style"])
    before = micro(x, t, ids, mask)
    L.add_lora(micro, L.LoraSpec(rank=2))
    trainable = [n for n, p in micro.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    torch.testing.assert_close(micro(x, t, ids, mask), before)  # B = 0 at the start
    for n, p in micro.denoiser.unet.named_parameters():
        if "lora_B" in n:
            p.data.normal_(0, 0.05)
    adapted = micro(x, t, ids, mask)
    assert (adapted - before).abs().max() > 1e-3
    state = L.lora_state(micro)
    L.fold_lora(micro)
    assert not any("lora" in n for n, _ in micro.named_parameters())
    torch.testing.assert_close(micro(x, t, ids, mask), adapted, rtol=1e-4, atol=1e-5)
    # the state alone re-creates the expert on a fresh copy of the base
    torch.manual_seed(0)
    fresh = TextToImage("micro").eval()
    L.add_lora(fresh, L.LoraSpec(rank=2))
    L.load_lora_state(fresh, state)
    torch.testing.assert_close(fresh(x, t, ids, mask), adapted, rtol=1e-4, atol=1e-5)


def test_save_and_load_round_trip(micro, tmp_path):
    micro.save_pretrained(tmp_path / "m")
    back = TextToImage.from_pretrained(tmp_path / "m").eval()
    assert back.config == micro.config
    x, t = torch.randn(1, 3, 32, 32), torch.tensor([100])
    ids, mask = micro.tokenize(["a red circle"])
    torch.testing.assert_close(back(x, t, ids, mask), micro(x, t, ids, mask))
    (tmp_path / "m" / "config.json").write_text(json.dumps({"class": "Other", "config": {}}))
    with pytest.raises(CheckpointError, match="Other"):
        TextToImage.from_pretrained(tmp_path / "m")


def test_bad_configs_raise_one_clear_error():
    with pytest.raises(ConfigError, match="cross_attention"):
        config("micro", cross_attention=(True,))
    with pytest.raises(ConfigError, match="image_size"):
        config("micro", image_size=30)
    with pytest.raises(ConfigError, match="unknown diffusion config"):
        config("huge")


def test_parameter_count_of_the_tiny_config():
    """The DiffusionGPT card's base model: about 0.5M parameters at 32x32."""
    n = sum(p.numel() for p in TextToImage("tiny").parameters())
    assert 400_000 < n < 800_000


def _batches(step):
    g = torch.Generator().manual_seed(step)
    return torch.rand(4, 3, 32, 32, generator=g) * 2 - 1, ["a red circle in flat style"] * 4


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    recipe = Recipe(steps=4, batch_size=4, warmup=1)
    torch.manual_seed(0)
    whole = train(TextToImage("micro"), _batches, recipe, tmp_path / "a", checkpoint_every=2, progress=False)

    def interrupted(step):
        if step == 3:
            raise KeyboardInterrupt
        return _batches(step)

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train(TextToImage("micro"), interrupted, recipe, tmp_path / "b", checkpoint_every=2, progress=False)
    torch.manual_seed(1)  # a fresh process: other initial weights, restored from the checkpoint
    resumed = train(TextToImage("micro"), _batches, recipe, tmp_path / "b", checkpoint_every=2, progress=False)
    for (n, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)


def test_lora_training_touches_only_the_adapters(tmp_path):
    torch.manual_seed(0)
    base = TextToImage("micro")
    before = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = train(base, _batches, Recipe(steps=3, batch_size=4, warmup=1, lr=1e-2), tmp_path / "l",
                  lora=L.LoraSpec(rank=2), progress=False)
    after = tuned.state_dict()
    for k, v in before.items():
        key = k.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        torch.testing.assert_close(after.get(k, after.get(key)), v, msg=k)
    assert any(not torch.all(v == 0) for k, v in L.lora_state(tuned).items() if "lora_B" in k)
