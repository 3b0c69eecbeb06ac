"""`python -m paperzoo ...` (what `accelerate launch -m paperzoo ...` runs): the `paperzoo` CLI."""

from paperzoo.cli import main

main(prog_name="paperzoo")
