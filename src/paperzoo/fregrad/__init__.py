"""FreGrad: lightweight and fast frequency-aware diffusion vocoder (Nguyen, Kim, Jang, Kim,
Chung; arXiv 2401.10032, ICASSP 2024), with its PriorGrad / DiffWave baseline.

Where each part of the paper lives:
    §3.1 one-level Haar DWT / iDWT (Eq. 5)                       dwt.py
    §3.2 frequency-aware dilated convolution (Fig. 3)             freq_dconv.py
    Fig. 2, the DiffWave backbone; named configs (§4.1)           model.py, config.py
    §2 diffusion (Eqs. 1-4); §3.3 zero-SNR schedule (Eq. 8)       diffusion.py, schedule.py
    §3.3 prior distribution (per-band energy)                     prior.py (biquad.py: the code's filters)
    §3.3 loss with L_mag (Eqs. 9-10)                              loss.py
    §4.1 mel front-end and audio pipeline                         audio.py
    §4.1 training; data (speech world, LJSpeech)                  train.py, data.py
    mel -> waveform                                               vocode.py
    Table 1 metrics; evaluation                                   metrics.py, evaluate.py
    official checkpoints                                          checkpoint.py, load.py
    the small-scale experiment, the demo                          reproduce.py, demo.py

    >>> from paperzoo.fregrad import Vocoder, load_vocoder, vocode
    >>> model = load_vocoder("runs/fregrad/model")            # or an official weights-*.pt + stats folder
    >>> audio = vocode(model, log_mel, model.prior_stats)     # log_mel: [80, frames], natural log
"""

from paperzoo.fregrad.config import VocoderConfig, config, configs
from paperzoo.fregrad.load import load_vocoder
from paperzoo.fregrad.model import Vocoder, parameter_count
from paperzoo.fregrad.vocode import vocode

__all__ = ["VocoderConfig", "Vocoder", "config", "configs", "load_vocoder", "parameter_count", "vocode"]
