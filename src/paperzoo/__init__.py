"""paperzoo: the ten systems of the Hugging Face Daily Papers of 2024-01-19, implemented
faithfully as one package (see README.md and ../shared/DESIGN.md).

`paperzoo.systems.SYSTEMS` lists them with what works today; each implemented system is
a subpackage (`paperzoo.sparc`, ...). `paperzoo.core` holds shared machinery with no
paper logic, `paperzoo.world` the procedural synthetic world the small-scale runs use.
"""

__version__ = "0.1.0"
