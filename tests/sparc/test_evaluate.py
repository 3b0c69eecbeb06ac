"""The evaluation protocol itself, on cases whose answers are known."""

import numpy as np
import torch

from paperzoo.sparc.evaluate import (
    caption_order, faithfulness, hard_negatives, objects_of, retrieval, unambiguous_tokens,
)
from paperzoo.world.scenes import VOCAB, SceneConfig, make_scenes


def test_retrieval_and_faithfulness_of_perfect_embeddings():
    cfg = SceneConfig()
    batch = make_scenes(cfg, 0, 50, split="eval")
    emb = torch.randn(50, 8)
    assert retrieval({"v_global": emb, "t_global": emb}) == {"i2t_r1": 1.0, "t2i_r1": 1.0}
    # Retrieving each image's own caption: every colour/shape word it names is present.
    assert faithfulness({"v_global": emb, "t_global": emb}, batch, cfg) == 1.0
    shuffled = retrieval({"v_global": emb, "t_global": emb[torch.randperm(50, generator=torch.Generator().manual_seed(0))]})
    assert shuffled["i2t_r1"] < 0.2


def test_unambiguous_tokens_name_one_object():
    cfg = SceneConfig()
    batch = make_scenes(cfg, 3, 100, split="eval")
    picked = unambiguous_tokens(batch, cfg)
    assert picked
    for i, l, o in picked:
        word = VOCAB[batch.token_ids[i, l]]
        objs = objects_of(batch, i, cfg)
        holders = [j for j, ob in enumerate(objs) if word in (ob.shape, ob.colour, ob.size, ob.texture)]
        assert holders == [o]
    # Every object word of a 1-object scene is unambiguous.
    singles = [i for i in range(100) if batch.n_objects[i] == 1]
    assert sum(1 for i, _, _ in picked if i == singles[0]) == 3


def test_hard_negatives_change_exactly_what_they_claim():
    cfg = SceneConfig()
    batch = make_scenes(cfg, 5, 200, split="eval")
    rng = np.random.default_rng(0)
    seen = set()
    for i in np.flatnonzero(batch.n_objects == 2)[:40]:
        objs, order = objects_of(batch, i, cfg), caption_order(batch, i)
        true = batch.captions[i].split()
        for kind, negative in hard_negatives(objs, order, cfg, rng).items():
            seen.add(kind)
            neg = negative.split()
            assert neg != true and len(neg) == len(true)
            diff = [(a, b) for a, b in zip(true, neg) if a != b]
            if kind == "replace_att":
                assert len(diff) == 1 and diff[0][1] in cfg.colours and diff[0][1] not in {o.colour for o in objs}
            elif kind == "swap_att":
                assert sorted(a for a, _ in diff) == sorted(b for _, b in diff)
            else:
                assert [set(d) for d in diff] in ([{"left", "right"}], [{"above", "below"}])
    assert seen == {"replace_att", "swap_att", "swap_rel"}


def _oracle_embeddings(batch, patch, anti=False):
    """Patches embed which object covers them (one-hot; the last axis is the free canvas); each
    content token embeds its own object (anti: the canvas) and each function word the canvas."""
    from paperzoo.world.scenes import patch_targets

    targets = torch.from_numpy(patch_targets(batch.masks, patch))  # (N, O, P)
    n, o, p = targets.shape
    owner = torch.where(targets.any(1), targets.float().argmax(1), torch.full((n, p), o))  # (N, P)
    v = torch.nn.functional.one_hot(owner, o + 1).float()
    tok = torch.from_numpy(batch.token_object).clamp(min=-1)
    t = torch.nn.functional.one_hot(torch.where(tok >= 0, tok if not anti else torch.full_like(tok, o), o), o + 1).float()
    return {"v_patches": v, "t_tokens": t}


def test_localisation_of_oracle_and_anti_oracle_embeddings():
    """Tokens embedded as their own objects localise perfectly on every metric; tokens that all
    point at the canvas score zero: the metrics can tell the two apart."""
    from paperzoo.sparc.evaluate import localisation
    from paperzoo.sparc.model import SparcModel
    from paperzoo.world.captions import VARIED

    model = SparcModel("tiny")
    for cfg in (SceneConfig(), VARIED):
        batch = make_scenes(cfg, 0, 60, split="eval")
        good = localisation(model, batch, cfg, _oracle_embeddings(batch, 8))
        assert good["pointing"] == 1.0 and good["topk_iou"] == 1.0 and good["any_token_finds_object"] == 1.0
        assert good["object_mass"] > 0.99 and good["function_on_object"] == 0.0
        assert good["pointing_chance"] < 0.2 and good["topk_iou_chance"] < 0.15
        assert {"pointing_shape", "pointing_colour", "pointing_size"} <= set(good)
        bad = localisation(model, batch, cfg, _oracle_embeddings(batch, 8, anti=True))
        assert bad["pointing"] == 0.0 and bad["topk_iou"] < 0.05 and bad["any_token_finds_object"] == 0.0
        assert bad["object_mass"] < 0.01


def test_varied_captions_are_evaluated_by_the_value_their_words_name():
    """Synonyms count as their value ("disc" is a circle), and the compositional test compares
    fixed-form captions on both sides."""
    from paperzoo.sparc.evaluate import word_kind
    from paperzoo.world.captions import VARIED, VARIED_VOCAB

    assert word_kind("disc", VARIED) == "shape" and word_kind("big", VARIED) == "size"
    batch = make_scenes(VARIED, 2, 200, split="eval")
    picked = unambiguous_tokens(batch, VARIED)
    words = {VARIED_VOCAB[batch.token_ids[i, l]] for i, l, _ in picked}
    assert words & {"disc", "box", "plus", "big", "little", "tiny", "hoop", "rhombus"}
