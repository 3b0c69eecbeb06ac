"""The VQ tokenizer (Eq. 1) on diffusers' VQModel with an EMA codebook, and the prompt encoders (tiny, local T5)."""

from dataclasses import replace

import pytest
import torch
from diffusers import VQModel

from paperzoo.core.errors import CheckpointError, InputError
from paperzoo.world.videos import VideoConfig, make_clips
from paperzoo.worlddreamer import FrameTokenizer, Prompts, config
from paperzoo.worlddreamer.prompts import PromptEncoder
from paperzoo.worlddreamer.tokenizer import nearest_code, psnr
from paperzoo.worlddreamer.train import TokenizerTraining

MICRO = config("micro")
VQMODEL = replace(MICRO.tokenizer, architecture="vqmodel")


@pytest.fixture(scope="module")
def frames():
    return make_clips(VideoConfig(), 0, 2).frames_float()


@pytest.mark.parametrize("architecture", ["conv", "patch", "vqmodel"])
def test_encode_decode_shapes_and_range(frames, architecture):
    tok = FrameTokenizer(replace(MICRO.tokenizer, architecture=architecture)).eval()
    ids = tok.encode(frames)
    assert ids.shape == (2, 8, 8, 8) and ids.dtype == torch.int64
    assert 0 <= int(ids.min()) and int(ids.max()) < MICRO.tokenizer.codebook_size
    out = tok.decode(ids)
    assert out.shape == frames.shape and 0 <= float(out.min()) and float(out.max()) <= 1


def test_nearest_code_equals_diffusers_quantizer(frames):
    """Our argmin equals VQModel.quantize's (torch.cdist) assignment."""
    torch.manual_seed(0)
    tok = FrameTokenizer(VQMODEL).eval()
    z = tok.latents(frames)
    _, _, (_, _, theirs) = tok.vq.quantize(z)
    ours = nearest_code(z.permute(0, 2, 3, 1), tok.codebook)
    assert torch.equal(ours.flatten(), theirs.flatten())


@pytest.mark.parametrize("architecture", ["conv", "vqmodel"])
def test_ema_codebook_synced_into_the_tokenizer_gives_the_same_codes(frames, architecture):
    torch.manual_seed(0)
    cfg = replace(MICRO.tokenizer, architecture=architecture)
    training = TokenizerTraining(FrameTokenizer(cfg), cfg)
    training.train()
    training(frames)  # k-means initialises the EMA codebook on this batch
    training.eval()
    training.sync_codebook()
    z = training.tokenizer.latents(frames)
    _, ema_ids, _ = training.quantizer(z)
    assert torch.equal(training.tokenizer.encode(frames).flatten(), ema_ids.flatten())


def test_dead_codes_are_restarted():
    """A code no latent is assigned to is moved onto the data by the EMA quantizer's dead-code restart."""
    torch.manual_seed(0)
    q = TokenizerTraining(FrameTokenizer(MICRO.tokenizer), MICRO.tokenizer).quantizer.train()
    z = torch.randn(4, 8, 8, 8)
    q(z)
    with torch.no_grad():
        q.vq._codebook.embed[0, :4] = 100.0  # far from every latent: never chosen, so dead
    for _ in range(5):
        q(z)
    assert float(q.codebook[:4].abs().max()) < 50


@pytest.mark.parametrize("architecture", ["conv", "vqmodel"])
def test_save_load_round_trip(tmp_path, frames, architecture):
    """Ours round-trips as model.safetensors + config.json; a VQModel tokenizer as a diffusers folder."""
    torch.manual_seed(0)
    cfg = replace(MICRO.tokenizer, architecture=architecture)
    tok = FrameTokenizer(cfg).eval()
    tok.save_pretrained(tmp_path / "tok")
    if architecture == "vqmodel":
        assert isinstance(VQModel.from_pretrained(tmp_path / "tok"), VQModel)
    again = FrameTokenizer.from_pretrained(tmp_path / "tok")
    assert again.config == cfg
    assert torch.equal(tok.encode(frames), again.encode(frames))
    assert torch.equal(tok.decode(tok.encode(frames)), again.decode(again.encode(frames)))


def test_any_local_vq_model_folder_loads_as_tokenizer(tmp_path, frames):
    """The real-scale path: a diffusers VQModel saved elsewhere (aMUSEd's layout: a `vqvae` subfolder)."""
    torch.manual_seed(0)
    vq = VQModel(block_out_channels=(8, 8), down_block_types=("DownEncoderBlock2D",) * 2,
                 up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4, latent_channels=4,
                 num_vq_embeddings=64, vq_embed_dim=4, lookup_from_codebook=True)
    vq.save_pretrained(tmp_path / "amused" / "vqvae")
    tok = FrameTokenizer.from_pretrained(tmp_path / "amused", subfolder="vqvae")
    ids = tok.encode(frames)
    assert ids.shape == (2, 8, 16, 16) and tok.codebook_size == 64
    assert tok.decode(ids).shape == frames.shape


def test_bad_tokenizer_inputs_get_one_clear_error(tmp_path, frames):
    tok = FrameTokenizer(MICRO.tokenizer)
    with pytest.raises(InputError, match="frames"):
        tok.encode(frames[:, :, :2])
    with pytest.raises(InputError, match="divisible"):
        tok.encode(frames[..., :30, :30])
    with pytest.raises(InputError, match="ids"):
        tok.decode(torch.full((1, 8, 8, 8), 999))
    with pytest.raises(CheckpointError, match="config.json"):
        FrameTokenizer.from_pretrained(tmp_path / "missing")
    tok.save_pretrained(tmp_path / "tok")
    (tmp_path / "tok" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="unreadable or corrupt"):
        FrameTokenizer.from_pretrained(tmp_path / "tok")
    FrameTokenizer(VQMODEL).save_pretrained(tmp_path / "vq")
    (tmp_path / "vq" / "diffusion_pytorch_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a loadable VQModel"):
        FrameTokenizer.from_pretrained(tmp_path / "vq")


def test_psnr_formula():
    a = torch.zeros(1, 1, 3, 4, 4)
    assert torch.allclose(psnr(a, a + 0.1), torch.tensor([[20.0]]), atol=1e-4)


def test_tiny_prompt_tokenizer_reads_world_captions():
    enc = PromptEncoder(MICRO.stpt)
    ids, mask = enc.tokenize(["a red circle orbits", ""])
    assert mask.sum(1).tolist() == [4, 0]
    with pytest.raises(InputError, match="exceed"):
        enc.tokenize(["a " * 20])


def test_local_t5_encoder_gives_the_text_prompt(tmp_path):
    """The paper's T5 path on a tiny random T5 saved here; it is frozen and kept out of the STPT's state."""
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<pad>", "</s>", "<unk>", "a", "red", "circle", "orbits"]
    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(tmp_path / "t5")
    torch.manual_seed(0)
    T5EncoderModel(T5Config(vocab_size=len(words), d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2)).save_pretrained(tmp_path / "t5")
    from dataclasses import replace

    from paperzoo.worlddreamer import STPT

    stpt_config = replace(MICRO.stpt, text_encoder="t5_local", t5_path=str(tmp_path / "t5"))
    model = STPT(stpt_config).eval()
    assert not any(k.startswith("prompts._t5") or "shared" in k for k in model.state_dict())
    ids, mask = model.prompts.tokenize(["a red circle orbits", "a circle"])
    assert mask[0].sum() >= 4
    x = torch.randint(0, 32, (2, 8, 8, 8))
    with_text = model(x, Prompts(ids, mask))
    assert with_text.shape == (2, 8, 8, 8, 32)
    assert not torch.allclose(with_text, model(x), atol=1e-5)
    with pytest.raises(InputError, match="t5_path"):
        STPT(replace(stpt_config, t5_path=str(tmp_path / "nothing")))


def test_conv_tokenizer_latents_are_local():
    """A latent of ours depends only on its neighbourhood: an object in one corner leaves the far corner's
    latent exactly as on a blank frame (VQModel's GroupNorm and attention do not; see TokenizerConfig)."""
    torch.manual_seed(0)
    tok = FrameTokenizer(MICRO.tokenizer).eval()
    blank = torch.full((1, 1, 3, 32, 32), 0.1)
    busy = blank.clone()
    busy[..., :8, :8] = 0.9
    with torch.no_grad():
        a, b = tok.latents(blank), tok.latents(busy)
    assert torch.equal(a[..., 5:, 5:], b[..., 5:, 5:]) and not torch.equal(a[..., :2, :2], b[..., :2, :2])
    vq = FrameTokenizer(VQMODEL).eval()
    with torch.no_grad():
        assert not torch.allclose(vq.latents(blank)[..., 5:, 5:], vq.latents(busy)[..., 5:, 5:])


def test_patch_tokenizer_latents_see_their_own_patch_only():
    """`architecture="patch"`: a latent is a function of its own 4x4 patch, so every blank patch encodes
    alike, even one touching an object (the conv encoder's latents see about 3 tokens around)."""
    torch.manual_seed(0)
    blank = torch.full((1, 1, 3, 32, 32), 0.1)
    busy = blank.clone()
    busy[..., 4:8, 4:8] = 0.9  # fills token (1, 1) exactly
    for architecture, neighbour_changes in (("patch", False), ("conv", True)):
        tok = FrameTokenizer(replace(MICRO.tokenizer, architecture=architecture)).eval()
        with torch.no_grad():
            a, b = tok.latents(blank), tok.latents(busy)
        assert not torch.equal(a[..., 1, 1], b[..., 1, 1])
        assert torch.equal(a[..., 1, 2], b[..., 1, 2]) != neighbour_changes, architecture
        assert torch.equal(a[..., 1, 2], a[..., 5, 5])
