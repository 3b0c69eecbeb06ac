"""`paperzoo worlddreamer reproduce --quick` end to end on the micro config, three seeds (a shrunk
quick budget): every unit runs, every claim gets a verdict from the shared helper, the tables,
plot and cache work. The numbers mean nothing at this budget; test_learning.py checks learning."""

import json
import math
from dataclasses import replace

import pytest
from PIL import Image

from paperzoo.core.verdict import VERDICTS
from paperzoo.worlddreamer import reproduce
from paperzoo.worlddreamer.reproduce import MASK_MODES, QUICK


@pytest.mark.slow
def test_quick_reproduce_report_plot_and_cache(tmp_path, monkeypatch, pooled_pixels):
    monkeypatch.setattr(reproduce, "QUICK", replace(QUICK, seeds=3, cmmd_embedder=pooled_pixels))
    report = reproduce.run(tmp_path, quick=True)
    assert report.quick and report.command == "paperzoo worlddreamer reproduce --quick"
    by_claim = {c.claim: c for c in report.claims}
    assert len(by_claim) == len(report.claims) == 18
    for c in report.claims:
        assert c.holds in VERDICTS, c
        if c.verdict.kind in ("better", "equivalent"):
            assert c.verdict.n == 3 and math.isfinite(c.verdict.diff), c
    flops = by_claim["patchwise attention (s = 2) costs 1/4 of full attention"]
    assert flops.holds == "yes" and "0.2500" in flops.ours
    passes = by_claim["parallel decoding needs far fewer forward passes than token-by-token (>= 10x)"]
    assert passes.holds == "yes"  # 4 parallel steps vs (8 - 2) x 64 tokens on the micro grid
    assert by_claim["joint image-video training lowers FVD-lite"].holds == "not measured"

    results = json.loads((tmp_path / "worlddreamer" / "results.json").read_text())
    assert len(results) == 3
    for r in results:
        ev = r["evaluation"]
        assert set(ev["mask_modes"]) == set(MASK_MODES)
        assert ev["decoding"]["same_clips"]["token_by_token"]["passes"] == (8 - QUICK.context) * 64
        assert [ev["decoding"]["parallel"][str(t)]["passes"] for t in QUICK.decode_steps] == list(QUICK.decode_steps)
        t2v = ev["tasks"]["beta=1"]["text_to_video"]
        assert t2v["passes"] == 2 * 4  # CFG: two forward passes per step
        assert math.isfinite(t2v["cmmd_per_frame"]) and math.isfinite(t2v["fvd_lite"])
        assert 0 <= ev["tasks"]["beta=0"]["action_to_video"]["both"] <= 1
    assert "token-by-token" in report.tables[0] and "video prediction" in report.tables[1]
    assert Image.open(tmp_path / report.plots[0]).size[0] > 500
    gifs = {p.rsplit("/", 1)[-1]: tmp_path / p for p in report.plots[1:]}
    assert set(gifs) == {f"{t}.gif" for t in ("text-to-video", "image-to-video", "video-prediction", "action-to-video",
                                              "inpainting", "unconditional")}
    with Image.open(gifs["action-to-video.gif"]) as gif:  # 8 frames; rows: the clips, own actions, opposite actions
        assert gif.n_frames == 8 and gif.size[1] == 3 * (3 * 32 + 2)  # scale 3, 1-pixel gaps
    again = reproduce.run(tmp_path, quick=True)  # served from the cache
    assert [c.verdict for c in again.claims] == [c.verdict for c in report.claims]


def test_full_budget_names_real_configs():
    """The full budget's decoding steps include the CI gate's T = 8 and its betas start at 0 (no guidance)."""
    from paperzoo.worlddreamer import config

    full = reproduce.FULL
    assert 8 in full.decode_steps and full.betas[0] == 0 and full.seeds >= 3
    assert config(full.config).stpt.frames > full.context >= 2
