"""Named configs: encoder parameter counts for the paper's App. D.1 architectures.

App. D.1 gives layers, width, heads and patch size, not parameter counts; the card computed
the counts (card §2 table, rounded to 0.01M) and there is no official code, so these tests pin
exact counts of our modules and that they round to the card's figures."""

import pytest
import torch

import paperzoo.sparc as sparc
from paperzoo.core.errors import ConfigError
from paperzoo.sparc.config import PAPER_ENCODER_PARAMS_M
from paperzoo.world.scenes import VOCAB


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", ["vit-b-32", "vit-b-16", "vit-l-14"])
def test_vision_encoder_parameters_round_to_card_table(name):
    with torch.device("meta"):
        n = count(sparc.VisionTransformer(sparc.config(name).vision))
    # The card's table gives millions to two decimals.
    assert round(n / 1e6, 2) == PAPER_ENCODER_PARAMS_M[name]


def test_exact_counts_of_named_encoders():
    # Written out from the architecture (12 C^2 + 13 C per block, patch/pos embeddings, final LN).
    with torch.device("meta"):
        assert count(sparc.VisionTransformer(sparc.config("vit-b-16").vision)) == 85_797_120
        assert count(sparc.VisionTransformer(sparc.config("vit-b-32").vision)) == 87_453_696
        assert count(sparc.VisionTransformer(sparc.config("vit-l-14").vision)) == 303_176_704
        text = count(sparc.TextTransformer(sparc.config("vit-b-16").text))
    assert text == 109_674_240 and round(text / 1e6, 1) == PAPER_ENCODER_PARAMS_M["text"]


def test_patch_counts_and_tiny():
    assert [sparc.config(n).vision.num_patches for n in ("vit-b-32", "vit-b-16", "vit-l-14", "tiny")] == [49, 196, 256, 36]
    tiny = sparc.config("tiny")
    assert len(VOCAB) <= tiny.text.vocab_size
    from paperzoo.sparc.train import world_scene_config
    from paperzoo.world.captions import VARIED, VARIED_VOCAB

    varied = sparc.config("tiny-varied")
    assert len(VARIED_VOCAB) <= varied.text.vocab_size and varied.text.context_length >= VARIED.max_tokens
    assert world_scene_config(varied) == VARIED and world_scene_config(tiny).captions == "fixed"
    with torch.device("meta"):
        assert round(count(sparc.VisionTransformer(tiny.vision)) / 1e6, 2) == 0.82  # card §5


def test_registry_and_bad_values():
    assert sparc.configs() == ["tiny", "tiny-varied", "vit-b-32", "vit-b-16", "vit-l-14"]
    with pytest.raises(ConfigError, match="unknown sparc config 'vit-h-14'"):
        sparc.config("vit-h-14")
    with pytest.raises(ConfigError, match="weighting='argmax'"):
        sparc.SparcConfig(weighting="argmax")
    with pytest.raises(ConfigError, match="not divisible"):
        sparc.SparcConfig(vision=sparc.VisionConfig(image_size=50, patch_size=16))
    assert sparc.config("tiny").clip().lambda_fine == 0.0
