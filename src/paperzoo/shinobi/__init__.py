"""SHINOBI: Shape and Illumination using Neural Object Decomposition via BRDF Optimization In-the-wild
(Engelhardt et al., CVPR 2024; arXiv 2401.10171).

Which file holds which part of the paper:

    hashgrid.py      §3.1, App. A.2   the multi-resolution hash encoding (pure torch)
    encoding.py      §3.1, Eqs. 1, 5, 6   the hybrid encoding and its coarse-to-fine annealing
    field.py         App. A.2         density, early radiance c~, BRDF decoder
    illumination.py  §3               per-image spherical Gaussians and their closed-form shading
    render.py        App. A.1         volume rendering, normals, deferred shading
    cameras.py       §3.1, Eqs. 7-10  look-at + direction cameras, multiplexes
    importance.py    Eqs. 3-4         per-view importance
    losses.py        §3.2, App. A.4   every loss
    train.py         §3.2, App. A.5   the joint optimisation and its schedules (Eq. 2 consistency)
    evaluate.py      §4               test views, Procrustes pose errors, materials, relighting
    data.py, envmap.py, mesh.py, run.py   photographs from disk (folders, NAVI), environment maps, meshes, runs
    reproduce.py     card §5          the small-scale reproduction

The 3D world it is tested on is `paperzoo.world.objects3d`.
"""

from paperzoo.shinobi.config import ShinobiConfig, config, configs
from paperzoo.shinobi.data import Photos, from_world, load_folder, load_navi
from paperzoo.shinobi.field import Field, FieldConfig
from paperzoo.shinobi.hashgrid import HashGrid, HashGridConfig
from paperzoo.shinobi.train import Fitter

__all__ = ["ShinobiConfig", "config", "configs", "Photos", "from_world", "load_folder", "load_navi", "Field",
           "FieldConfig", "HashGrid", "HashGridConfig", "Fitter"]
