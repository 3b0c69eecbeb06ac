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
