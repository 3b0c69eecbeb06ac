"""Embedders: unit-norm outputs, CLIP from a Hugging Face folder and from the OpenAI
layout (key map checked against the HF model on a tiny random CLIP), SPARC checkpoints."""

import numpy as np
import pytest
import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from paperzoo.cmmd.embedders import CLIP_MEAN, CLIP_STD, VIT_L14_336, ClipEmbedder, SparcEmbedder, load_embedder
from paperzoo.core.errors import CheckpointError, InputError


def tiny_clip() -> CLIPVisionModelWithProjection:
    torch.manual_seed(0)
    cfg = CLIPVisionConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=1,
                           image_size=32, patch_size=8, projection_dim=16, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    return CLIPVisionModelWithProjection(cfg).eval()


def to_openai_layout(model: CLIPVisionModelWithProjection) -> dict:
    """The inverse of the key map, written independently: HF names -> OpenAI `visual.*`."""
    s = model.state_dict()
    e, out = "vision_model.embeddings.", {}
    out["visual.class_embedding"] = s[e + "class_embedding"]
    out["visual.conv1.weight"] = s[e + "patch_embedding.weight"]
    out["visual.positional_embedding"] = s[e + "position_embedding.weight"]
    out["visual.proj"] = s["visual_projection.weight"].T
    for p in ("weight", "bias"):
        out[f"visual.ln_pre.{p}"] = s[f"vision_model.pre_layrnorm.{p}"]
        out[f"visual.ln_post.{p}"] = s[f"vision_model.post_layernorm.{p}"]
    for i in range(model.config.num_hidden_layers):
        a, b = f"vision_model.encoder.layers.{i}.", f"visual.transformer.resblocks.{i}."
        for p in ("weight", "bias"):
            out[b + f"attn.in_proj_{p}"] = torch.cat([s[a + f"self_attn.{n}_proj.{p}"] for n in "qkv"])
            out[b + f"attn.out_proj.{p}"] = s[a + f"self_attn.out_proj.{p}"]
            out[b + f"ln_1.{p}"], out[b + f"ln_2.{p}"] = s[a + f"layer_norm1.{p}"], s[a + f"layer_norm2.{p}"]
            out[b + f"mlp.c_fc.{p}"], out[b + f"mlp.c_proj.{p}"] = s[a + f"mlp.fc1.{p}"], s[a + f"mlp.fc2.{p}"]
    out["transformer.resblocks.0.ln_1.weight"] = torch.ones(3)  # a text-tower key, ignored
    return out


def reference_embeddings(model, images: np.ndarray) -> np.ndarray:
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2)
    pixels = (pixels - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        e = model(pixel_values=pixels).image_embeds
    return torch.nn.functional.normalize(e, dim=-1).numpy()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 1, (5, 32, 32, 3)).astype(np.float32)


def test_clip_from_a_hugging_face_folder(tmp_path, images):
    model = tiny_clip()
    model.save_pretrained(tmp_path / "clip")
    emb = load_embedder(tmp_path / "clip")
    assert isinstance(emb, ClipEmbedder) and emb.input_size == 32 and emb.dim == 16
    out = emb.embed(images, batch_size=2)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(out, reference_embeddings(model, images), atol=1e-5)


def test_clip_from_the_openai_layout(tmp_path, images):
    model = tiny_clip()
    state = to_openai_layout(model)
    torch.save(state, tmp_path / "plain.pt")
    np.testing.assert_allclose(ClipEmbedder(tmp_path / "plain.pt").embed(images), reference_embeddings(model, images), atol=1e-5)

    # a TorchScript archive holding the same parameters under the same names, as OpenAI ships
    class Holder(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    root = Holder()
    for name, value in state.items():
        *path, leaf = name.split(".")
        node = root
        for part in path:
            if not hasattr(node, part):
                node.add_module(part, Holder())
            node = getattr(node, part)
        node.register_parameter(leaf, torch.nn.Parameter(value.clone(), requires_grad=False))
    torch.jit.script(root).save(str(tmp_path / "ViT-tiny.pt"))
    np.testing.assert_allclose(ClipEmbedder(tmp_path / "ViT-tiny.pt").embed(images), reference_embeddings(model, images), atol=1e-5)


def test_clip_checkpoint_errors(tmp_path):
    state = to_openai_layout(tiny_clip())
    del state["visual.proj"]
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="missing visual.proj"):
        ClipEmbedder(tmp_path / "broken.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pt: neither a TorchScript archive nor a state dict"):
        ClipEmbedder(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="no such embedder"):
        load_embedder(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="needs config.json"):
        load_embedder(tmp_path / "empty")


def test_paper_clip_parameter_count():
    """CLIP ViT-L/14@336px visual tower + projection: 304,293,888 parameters (card §7)."""
    with torch.device("meta"):
        model = CLIPVisionModelWithProjection(CLIPVisionConfig(**VIT_L14_336))
    assert sum(p.numel() for p in model.parameters()) == 304_293_888
    assert model.config.image_size == 336 and model.config.projection_dim == 768


def test_sparc_embedder_checkpoint_and_input_checks(tmp_path):
    from paperzoo.sparc.model import SparcModel

    torch.manual_seed(0)
    model = SparcModel("tiny")
    model.save_pretrained(tmp_path / "sparc")
    emb = load_embedder(tmp_path / "sparc")
    assert isinstance(emb, SparcEmbedder) and emb.dim == 64 and emb.input_size == 48
    x = np.random.default_rng(1).uniform(0, 1, (3, 48, 48, 3)).astype(np.float32)
    out = emb.embed(x)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    with torch.no_grad():
        v = model.encode_image(torch.from_numpy(x).permute(0, 3, 1, 2))["v_global"]
    np.testing.assert_allclose(out, torch.nn.functional.normalize(v, dim=-1).numpy(), atol=1e-6)
    assert emb.fingerprint == SparcEmbedder(model).fingerprint.replace("in-memory", str(tmp_path / "sparc"))
    with pytest.raises(InputError, match=r"expected \(N, 48, 48, 3\)"):
        emb.embed(x[:, :32])
    with pytest.raises(InputError, match="dtype uint8"):
        emb.embed((x * 255).astype(np.uint8))
    with pytest.raises(InputError, match=r"values must lie in \[0, 1\]"):
        emb.embed(x * 2)
