"""Named vocoder configs: FreGrad (§3, §4.1), its PriorGrad / DiffWave baseline, the Table 2
ablations, and the tiny CPU configs of card §5.

One dataclass covers both families because FreGrad is PriorGrad with four changes, each a
field here, so an ablation is `dataclasses.replace(config, field=...)`:

    bands        2: denoise the two Haar sub-bands of length L/2 (FreGrad, §3.1);
                 1: denoise the waveform (PriorGrad, DiffWave)
    freq_dconv   the dilated conv of every block is a Freq-DConv (§3.2, Fig. 3)
    prior        "separate": one energy prior per sub-band (§3.3); "single": PriorGrad's
                 full-band prior; "none": N(0, I) (DiffWave)
    schedule     "zero-snr": Eq. 8 applied to the linear betas; "linear": DiffWave's betas
    mag_weight   lambda of Eq. 10 (0.1); 0 turns L_mag off

and the card's paper-vs-code mismatches as options:

    mag_res      "official": the code's STFT resolutions for L_mag; "paper": §3.3's
    prior_filter "official": the code's 15 Hz high-pass / 5.5 kHz low-pass biquads on the
                 per-frame sigma; "none": the paper's sigma as written
    cutoff_filter  the code's band filters on both sub-bands before the iDWT (on by default)
    fmin         0 Hz (code, the released checkpoint) or 80 Hz (paper §4.1)

Parameter counts (exact, tested): FreGrad 1,782,548, equal to the official module's count
(tests/fregrad/test_official_parity.py); PriorGrad = DiffWave 2,619,971 and FreGrad w/o
Freq-DConv 1,227,668, from the module definitions (card §2). The paper gives only the rounded
1.78M / 2.62M.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from paperzoo.core.errors import ConfigError
from paperzoo.core.registry import ConfigRegistry


@dataclass(frozen=True)
class VocoderConfig:
    bands: int = 2
    residual_channels: int = 32  # C
    residual_layers: int = 30
    dilation_cycle: int = 7  # dilation of block i is 2 ** (i % cycle)
    embedding_dim: int = 512  # width of the diffusion-step MLP (128 -> E -> E)
    freq_dconv: bool = True
    upsample_strides: tuple[int, ...] = (16, 8)  # mel frame -> samples of one band: 128 = hop / bands
    n_mels: int = 80
    hop: int = 256
    sample_rate: int = 22050
    fmin: float = 0.0
    fmax: float = 8000.0
    prior: str = "separate"
    prior_split: int = 40  # mel bins below this feed sigma_low, the rest sigma_high (§3.3)
    std_min: float = 0.1
    max_energy: float | None = 4.0  # the code's max_energy_override
    prior_filter: str = "official"
    schedule: str = "zero-snr"
    steps: int = 50
    beta_start: float = 1e-4
    beta_end: float = 0.05
    # the training betas as given (an official checkpoint's float32 noise_schedule, which its
    # sampler uses); None: computed in float64 from schedule / beta_start / beta_end
    betas: tuple[float, ...] | None = None
    mag_weight: float = 0.1
    mag_res: str = "official"
    cutoff_filter: bool = True
    clamp: float | None = 1.0  # every reverse step clamps to [-clamp, clamp] (the code's sampler)
    kaiming_dilated: bool = False  # PriorGrad's dilated conv is Kaiming-initialised; FreGrad's is PyTorch's default

    def __post_init__(self):
        object.__setattr__(self, "upsample_strides", tuple(self.upsample_strides))
        if self.betas is not None:
            object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
            if len(self.betas) != self.steps or not all(0.0 < b < 1.0 for b in self.betas):
                raise ConfigError(f"VocoderConfig.betas: expected {self.steps} values in (0, 1), got {len(self.betas)}")
        choices = {"prior": ("separate", "single", "none"), "prior_filter": ("official", "none"),
                   "schedule": ("zero-snr", "linear"), "mag_res": ("official", "paper")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"VocoderConfig.{name}: {getattr(self, name)!r}; allowed: {', '.join(allowed)}")
        if self.bands not in (1, 2):
            raise ConfigError(f"VocoderConfig.bands: {self.bands}; allowed: 1 (waveform) or 2 (Haar sub-bands)")
        if self.bands == 1 and (self.freq_dconv or self.prior == "separate"):
            raise ConfigError("VocoderConfig: Freq-DConv and the separate prior need bands=2 (the wavelet domain)")
        upsample = 1
        for s in self.upsample_strides:
            upsample *= s
        if upsample * self.bands != self.hop:
            raise ConfigError(f"VocoderConfig: upsample strides {self.upsample_strides} x {self.bands} bands must equal "
                              f"the hop {self.hop}")
        if min(self.residual_channels, self.residual_layers, self.dilation_cycle, self.embedding_dim, self.steps) < 1:
            raise ConfigError("VocoderConfig: channels, layers, cycle, embedding width and steps must be positive")
        if not 0 < self.prior_split < self.n_mels:
            raise ConfigError(f"VocoderConfig.prior_split: {self.prior_split}; must lie in 1..{self.n_mels - 1}")
        if self.mag_weight < 0:
            raise ConfigError(f"VocoderConfig.mag_weight: {self.mag_weight}; must be >= 0")

    @property
    def family(self) -> str:
        return "fregrad" if self.bands == 2 else ("priorgrad" if self.prior != "none" else "diffwave")


registry: ConfigRegistry[VocoderConfig] = ConfigRegistry("fregrad")

FREGRAD = registry.register("fregrad", VocoderConfig())
PRIORGRAD = registry.register("priorgrad", VocoderConfig(
    bands=1, residual_channels=64, residual_layers=30, dilation_cycle=10, freq_dconv=False, upsample_strides=(16, 16),
    prior="single", prior_filter="none", schedule="linear", mag_weight=0.0, cutoff_filter=False, kaiming_dilated=True))
registry.register("diffwave", replace(PRIORGRAD, prior="none"))
# Table 2's ablations of the paper config
registry.register("fregrad-no-dconv", replace(FREGRAD, freq_dconv=False))
registry.register("fregrad-single-prior", replace(FREGRAD, prior="single"))
registry.register("fregrad-linear", replace(FREGRAD, schedule="linear"))
registry.register("fregrad-no-mag", replace(FREGRAD, mag_weight=0.0))
# card §5: the CPU configs (C 16 / 32, 12 blocks, cycle 6, step MLP 256)
TINY = dict(residual_layers=12, dilation_cycle=6, embedding_dim=256)
TINY_FREGRAD = registry.register("tiny-fregrad", replace(FREGRAD, residual_channels=16, **TINY))
registry.register("tiny-priorgrad", replace(PRIORGRAD, residual_channels=32, **TINY))
registry.register("tiny-diffwave", replace(PRIORGRAD, residual_channels=32, prior="none", **TINY))
registry.register("tiny-fregrad-no-dconv", replace(TINY_FREGRAD, freq_dconv=False))
registry.register("tiny-fregrad-single-prior", replace(TINY_FREGRAD, prior="single"))
registry.register("tiny-fregrad-linear", replace(TINY_FREGRAD, schedule="linear"))
registry.register("tiny-fregrad-no-mag", replace(TINY_FREGRAD, mag_weight=0.0))

# the reference counts: fregrad the official module's (counted by running kaistmm/fregrad), the rest
# card §2's, computed from the module definitions; the paper rounds them to 1.78M / 2.62M
PAPER_PARAMS = {"fregrad": 1_782_548, "priorgrad": 2_619_971, "diffwave": 2_619_971, "fregrad-no-dconv": 1_227_668,
                "tiny-fregrad": 260_788, "tiny-priorgrad": 360_899}


def config(name: str) -> VocoderConfig:
    return registry.get(name)


def configs() -> list[str]:
    return registry.names()
