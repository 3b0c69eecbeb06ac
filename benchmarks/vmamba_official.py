"""paperzoo's VMamba-T beside the official code (MzeroMiko/VMamba), on a CPU: same weights,
same outputs, and forward time against the official pure-torch path (issue 5, "where it
can be run here"). Needs a local checkout of the official repository; nothing of it is
copied or edited here.

    python benchmarks/vmamba_official.py <checkout>/classification/models [--threads 2] [--no-batch8]

The official code cannot be imported on a machine without Triton and its CUDA extensions,
so this script, before importing it:
  * stubs `timm.models.layers` (DropPath with timm's semantics, trunc_normal_ = torch's) and
    `fvcore.nn` (only VSSM.flops uses it) when they are not installed;
  * gives csm_triton.py a placeholder `triton` during its own import only (it applies
    @triton.jit and tl.constexpr at module level even when `import triton` failed), removed
    before mamba2/ssd_minimal.py loads so that it sees Triton missing;
  * rebinds vmamba.cross_scan_fn / cross_merge_fn to the same CrossScanF / CrossMergeF
    (torch) calls without the `with torch.cuda.device(x.device)` wrapper, which raises on
    CPU tensors;
  * turns the Triton / CUDA-scan flags off, so the scan is csms6s.selective_scan_torch.
It then builds VMamba-T (configs/vssm/vmambav2v_tiny_224.yaml = vmamba_tiny_s1l8), saves its
weights as a release-style {"model": state_dict}, loads them into paperzoo's
create_model("vmamba-t") strictly, compares logits and stage features (also with every
parameter perturbed and a non-square input), and times the forward pass at batch 1 and 8.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types

import torch


# ---------------------------------------------------------------- stubs
def install_stubs() -> list[str]:
    stubbed = []
    try:
        import timm.models.layers  # noqa: F401
    except Exception:  # noqa: BLE001
        def drop_path(x, drop_prob: float = 0.0, training: bool = False, scale_by_keep: bool = True):
            if drop_prob == 0.0 or not training:
                return x
            keep = 1 - drop_prob
            mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
            if keep > 0.0 and scale_by_keep:
                mask.div_(keep)
            return x * mask

        class DropPath(torch.nn.Module):
            def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True):
                super().__init__()
                self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

            def forward(self, x):
                return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)

        def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
            return torch.nn.init.trunc_normal_(tensor, mean, std, a, b)

        timm = types.ModuleType("timm")
        models = types.ModuleType("timm.models")
        layers = types.ModuleType("timm.models.layers")
        layers.DropPath, layers.trunc_normal_, layers.drop_path = DropPath, trunc_normal_, drop_path
        timm.models, models.layers = models, layers
        sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers})
        stubbed.append("timm.models.layers (DropPath, trunc_normal_)")
    try:
        import fvcore.nn  # noqa: F401
    except Exception:  # noqa: BLE001
        fv = types.ModuleType("fvcore")
        fvnn = types.ModuleType("fvcore.nn")

        def _unavailable(*a, **k):
            raise RuntimeError("fvcore is stubbed (only VSSM.flops uses it)")

        for name in ("FlopCountAnalysis", "flop_count_str", "flop_count", "parameter_count"):
            setattr(fvnn, name, _unavailable)
        fv.nn = fvnn
        sys.modules.update({"fvcore": fv, "fvcore.nn": fvnn})
        stubbed.append("fvcore.nn (FlopCountAnalysis, flop_count_str, flop_count, parameter_count: raise if called)")
    return stubbed


def import_official(models_dir: str):
    models_dir = os.path.abspath(models_dir)
    if not os.path.isfile(os.path.join(models_dir, "vmamba.py")):
        sys.exit(f"{models_dir}: no vmamba.py (pass <checkout>/classification/models)")
    sys.path.insert(0, models_dir)
    # csm_triton.py defines its Triton kernels at module level (@triton.jit, tl.constexpr annotations)
    # even when `import triton` failed, so it needs a placeholder triton during its import only.
    triton_stub = None
    try:
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001
        class _Any:
            def __getattr__(self, name):
                return _Any()

            def __call__(self, *a, **k):
                return _Any()

        triton_stub = types.ModuleType("triton")
        tl = types.ModuleType("triton.language")
        tl.__getattr__ = lambda name: _Any()
        triton_stub.__getattr__ = lambda name: _Any()
        triton_stub.jit = lambda fn=None, **k: fn if fn is not None else (lambda f: f)
        triton_stub.language = tl
        sys.modules.update({"triton": triton_stub, "triton.language": tl})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the stub is visible to csm_triton only (mamba2/ssd_minimal must see triton missing)
            import csm_triton  # noqa: PLC0415
        finally:
            if triton_stub is not None:
                del sys.modules["triton"], sys.modules["triton.language"]
        import vmamba as official  # noqa: PLC0415  (its `from csm_triton import` gets the module above)
        import csms6s  # noqa: PLC0415
        import mamba2.ssd_minimal as ssd_minimal  # noqa: PLC0415
    assert not ssd_minimal.WITH_TRITON
    # cross_scan_fn / cross_merge_fn wrap the call in `with torch.cuda.device(x.device)`, which raises
    # on a CPU tensor; rebind the names vmamba.py uses to the same call without that context.
    # (With WITH_TRITON False / CPU tensors the official choice is CrossScanF / CrossMergeF.)
    def cross_scan_fn(x, in_channel_first=True, out_channel_first=True, one_by_one=False, scans=0, force_torch=False):
        return csm_triton.CrossScanF.apply(x, in_channel_first, out_channel_first, one_by_one, scans)

    def cross_merge_fn(y, in_channel_first=True, out_channel_first=True, one_by_one=False, scans=0, force_torch=False):
        return csm_triton.CrossMergeF.apply(y, in_channel_first, out_channel_first, one_by_one, scans)

    official.cross_scan_fn, official.cross_merge_fn = cross_scan_fn, cross_merge_fn
    flags = {"triton stubbed for import": triton_stub is not None, "csm_triton.WITH_TRITON": csm_triton.WITH_TRITON,
             "csms6s.WITH_SELECTIVESCAN_OFLEX": csms6s.WITH_SELECTIVESCAN_OFLEX,
             "csms6s.WITH_SELECTIVESCAN_CORE": csms6s.WITH_SELECTIVESCAN_CORE,
             "csms6s.WITH_SELECTIVESCAN_MAMBA": csms6s.WITH_SELECTIVESCAN_MAMBA}
    csm_triton.WITH_TRITON = False
    csms6s.WITH_SELECTIVESCAN_OFLEX = csms6s.WITH_SELECTIVESCAN_CORE = csms6s.WITH_SELECTIVESCAN_MAMBA = False
    return official, csms6s, flags


def build_official(official):
    # configs/vssm/vmambav2v_tiny_224.yaml over classification/config.py defaults (build_vssm_model)
    model = official.VSSM(
        patch_size=4, in_chans=3, num_classes=1000, depths=[2, 2, 8, 2], dims=96,
        ssm_d_state=1, ssm_ratio=1.0, ssm_dt_rank="auto", ssm_act_layer="silu", ssm_conv=3, ssm_conv_bias=False,
        ssm_drop_rate=0.0, ssm_init="v0", forward_type="v05_noz",
        mlp_ratio=4.0, mlp_act_layer="gelu", mlp_drop_rate=0.0,
        drop_path_rate=0.2, patch_norm=True, norm_layer="ln2d", downsample_version="v3", patchembed_version="v2",
        gmlp=False, use_checkpoint=False, posembed=False, imgsize=224,
    )
    ref = official.vmamba_tiny_s1l8(channel_first=True)  # the named constructor: same layout?
    a = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    same = a == b
    dp_yaml = [blk.drop_path.drop_prob for l in model.layers for blk in l.blocks]
    dp_ref = [blk.drop_path.drop_prob for l in ref.layers for blk in l.blocks]
    return model.eval(), same and dp_yaml == dp_ref


def official_stages(model, x):
    """Official forward, returning each stage's output before downsampling (channels-first) and logits."""
    x = model.patch_embed(x)
    stages = []
    for layer in model.layers:
        x = layer.blocks(x)
        stages.append(x if model.channel_first else x.permute(0, 3, 1, 2))
        x = layer.downsample(x)
    return stages, model.classifier(x)


def time_forward(fn, x, reps):
    with torch.no_grad():
        fn(x)  # warm-up
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            fn(x)
            best = min(best, time.perf_counter() - t)
    return best * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models_dir")
    ap.add_argument("--out", default=".", help="where the release-style official_t.pth is written")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-batch8", action="store_true")
    ap.add_argument("--skip-timing", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    stubbed = install_stubs()
    official, csms6s, flags = import_official(args.models_dir)
    print("stubbed modules:", "; ".join(stubbed) or "none")
    print("backend flags found (then forced False):", flags)

    torch.manual_seed(0)
    off, same_as_named = build_official(official)
    n_off = sum(p.numel() for p in off.parameters())
    print(f"official VMamba-T (v05_noz, ln2d/channel_first) params: {n_off:,}  (expected 30,249,064; "
          f"yaml build == vmamba_tiny_s1l8(): {same_as_named})")
    ss = off.layers[0].blocks[0].op
    print(f"official SS2D forward_core: {ss.forward_core.func.__name__} {ss.forward_core.keywords}, "
          f"out_norm={type(ss.out_norm).__name__}, in_proj={type(ss.in_proj).__name__}")

    # --- save and load into ours
    sd = off.state_dict()
    path = os.path.join(args.out, "official_t.pth")
    torch.save({"model": sd}, path)
    from paperzoo.vmamba import create_model
    from paperzoo.vmamba.checkpoint import map_official_keys

    ours_blank = create_model("vmamba-t").eval()
    n_ours = sum(p.numel() for p in ours_blank.parameters())
    print(f"ours params: {n_ours:,}")
    mapped = map_official_keys(sd)
    own = ours_blank.state_dict()
    missing = [k for k in own if k not in mapped]
    unexpected = [k for k in mapped if k not in own]
    wrong = [(k, tuple(mapped[k].shape), tuple(own[k].shape)) for k in own if k in mapped and mapped[k].shape != own[k].shape]
    print(f"key check: missing={missing} unexpected={unexpected} shape_mismatch={wrong}")
    ours = create_model("vmamba-t", pretrained=path, trust_pickle=True)
    how = 'create_model("vmamba-t", pretrained=PATH, trust_pickle=True)'
    ours.eval()
    print(f"loaded into ours via {how} (strict)")

    # --- compare
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        st_off, lg_off = official_stages(off, x)
        st_ours = ours.forward_intermediates(x)
        lg_ours = ours(x)
        pe_off = off.patch_embed(x)
        pe_ours = ours.patch_embed(x).permute(0, 3, 1, 2)
    print(f"patch_embed max|diff| = {(pe_off - pe_ours).abs().max().item():.3e}")
    for i, (a, b) in enumerate(zip(st_off, st_ours)):
        print(f"stage {i} {tuple(a.shape)} max|diff| = {(a - b).abs().max().item():.3e}  (max|x| {a.abs().max().item():.2f})")
    d = (lg_off - lg_ours).abs().max().item()
    print(f"logits max|diff| = {d:.3e}  (max|logit| {lg_off.abs().max().item():.3f}); "
          f"allclose(atol=1e-4): {torch.allclose(lg_off, lg_ours, atol=1e-4, rtol=0)}; "
          f"argmax equal: {lg_off.argmax().item() == lg_ours.argmax().item()}")
    ours_ref = create_model("vmamba-t", scan_backend="ref").eval()
    ours_ref.load_state_dict(ours.state_dict())
    with torch.no_grad():
        lg_ref = ours_ref(x)
    print(f"ours scan_backend='ref' logits max|diff| vs official = {(lg_off - lg_ref).abs().max().item():.3e}")

    # --- harder check: perturb every parameter (A_logs, Ds, LN affine, biases are symmetric at init,
    # so route-order or affine mix-ups would not show above), and use a non-square input (H != W
    # catches row/column-major confusions in the cross-scan/merge).
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in off.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g) * (p.std() if p.numel() > 1 and p.std() > 0 else 1.0))
    ours.load_state_dict(off.state_dict(), strict=True)
    ours_ref.load_state_dict(off.state_dict(), strict=True)
    torch.manual_seed(0)
    for shape in [(1, 3, 224, 224), (2, 3, 224, 160)]:
        xp = torch.randn(*shape)
        with torch.no_grad():
            st_off, lg_off = official_stages(off, xp)
            st_ours = ours.forward_intermediates(xp)
            lg_ours, lg_ref = ours(xp), ours_ref(xp)
        sd = max((a - b).abs().max().item() for a, b in zip(st_off, st_ours))
        print(f"perturbed params, input {shape}: logits max|diff| = {(lg_off - lg_ours).abs().max().item():.3e} "
              f"(ref scan {(lg_off - lg_ref).abs().max().item():.3e}; max|logit| {lg_off.abs().max().item():.3f}); "
              f"stage features max|diff| = {sd:.3e}")
    # restore the unperturbed weights for the timing
    off.load_state_dict(torch.load(path)["model"])
    ours.load_state_dict(off.state_dict())
    ours_ref.load_state_dict(off.state_dict())

    if args.skip_timing:
        return
    # --- timing, alternating models, 1 thread
    print(f"\ntiming: torch {torch.__version__}, threads={torch.get_num_threads()}, best of {args.reps} after 1 warm-up, no_grad, eval")
    batches = [1] if args.no_batch8 else [1, 8]
    for b in batches:
        xb = torch.randn(b, 3, 224, 224)
        if b > 1:
            with torch.no_grad():
                t = time.perf_counter()
                off(xb)
                once = time.perf_counter() - t
            if once > 60:
                print(f"batch {b}: official single forward {once:.1f} s > 60 s, skipped")
                continue
        t_off = time_forward(off, xb, args.reps)
        t_ours = time_forward(ours, xb, args.reps)
        t_ref = time_forward(ours_ref, xb, args.reps)
        print(f"batch {b}: official {t_off:9.1f} ms | ours(chunked) {t_ours:9.1f} ms | ours(ref) {t_ref:9.1f} ms | "
              f"official/ours(chunked) = {t_off / t_ours:.2f}x, official/ours(ref) = {t_off / t_ref:.2f}x")
        print(f"ratio official_over_ours_forward_b{b} = {t_off / t_ours:.2f} (target > 1)")


if __name__ == "__main__":
    main()
