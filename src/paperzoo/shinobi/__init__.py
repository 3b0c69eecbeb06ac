"""SHINOBI: Shape and Illumination using Neural Object Decomposition via BRDF Optimization In-the-wild
(Engelhardt et al., CVPR 2024; arXiv 2401.10171).

Work in progress (issue 20): `hashgrid` (the multi-resolution hash encoding of §3.1 / App. A.2, pure torch).
The 3D world is `paperzoo.world.objects3d`.
"""
