"""FreGrad: lightweight and fast frequency-aware diffusion vocoder (Nguyen et al., arXiv
2401.10032, ICASSP 2024). In progress (issue 6).

Where each part of the paper lives so far:
    §3.1 one-level Haar DWT / iDWT (Eq. 5)                  dwt.py
    §2 diffusion schedule; §3.3 zero-SNR schedule (Eq. 8)   schedule.py
"""
