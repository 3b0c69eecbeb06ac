"""VMamba: Visual State Space Model (Liu et al., arXiv 2401.10166, NeurIPS 2024).

A Swin-like four-stage hierarchy whose token mixer is SS2D: the feature map is unfolded
into four sequences (row-major, column-major, both reversed), each is scanned by a Mamba
S6 selective scan with its own parameters, and the results are folded back and summed.

Where each part of the paper lives:
    §3 S6 recurrence (Eq. 7 discretisation); the chunked scan   scan.py
    §4.1 cross-scan / cross-merge (Fig. 2), App. H.1 scans      cross_scan.py
    §4.1 SS2D (Fig. 3), initialisation                          ss2d.py
    §4.1 VSS block, stems, downsampling (App. E)                blocks.py
    the network                                                 model.py
    `create_model` (timm-style), official checkpoints           factory.py, checkpoint.py
    the fused CPU scan (C++), its autograd wrapper              fused_scan.cpp, fused_scan.py
    named configs (T1, T3, App. E)                              config.py

    >>> import paperzoo.vmamba as vmamba
    >>> model = vmamba.create_model("vmamba-t", num_classes=10)
"""

from paperzoo.vmamba.config import VMambaConfig, config, registry
from paperzoo.vmamba.factory import create_model
from paperzoo.vmamba.model import VMamba
from paperzoo.vmamba.scan import selective_scan, selective_scan_chunked, selective_scan_ref

__all__ = ["VMamba", "VMambaConfig", "config", "create_model", "registry", "selective_scan", "selective_scan_chunked",
           "selective_scan_ref"]
