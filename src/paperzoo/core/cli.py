"""CLI machinery shared by every system's commands (click).

`--device`, `--seed` and `--out` mean the same in every system; `PaperzooError` from any
command is printed as one line ("Error: ...") with exit code 1, never as a traceback.
"""

import importlib
from pathlib import Path

import click

from paperzoo.core.errors import PaperzooError


class Group(click.Group):
    """A click group whose subcommands may be imported lazily (`lazy={"name": "module:attr"}`),
    so `paperzoo --help` does not import torch for every system, and which turns
    PaperzooError into a one-line error."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PaperzooError as err:
            raise click.ClickException(str(err)) from None


def device_option(f):
    return click.option(
        "--device", default="auto", show_default=True,
        help="Where to run: auto (GPU if present), cpu, cuda, cuda:1, mps.",
    )(f)


def seed_option(f):
    return click.option("--seed", type=int, default=0, show_default=True, help="Random seed; the same seed gives the same numbers.")(f)


def out_option(default: str, help: str):
    def decorate(f):
        return click.option("--out", type=click.Path(path_type=Path), default=default, show_default=True, help=help)(f)

    return decorate


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; anything else is checked against this machine and returned."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise PaperzooError(f"--device {device!r} is not a device; expected auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise PaperzooError(f"--device {device!r}: no CUDA GPU is available here; use --device cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise PaperzooError(f"--device {device!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise PaperzooError(f"--device {device!r}: Apple's MPS backend is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise PaperzooError(f"--device {device!r}: expected auto, cpu, cuda, cuda:N or mps")
    return device


def model_option(default: str | None, help: str, required: bool = False):
    """`--model NAME|FOLDER`: every command that takes a trained model names it this way, as a
    named config (the system's cached model of that config, trained once on first use where the
    system has one) or a checkpoint folder (`save_pretrained` output, or a local release)."""

    def decorate(f):
        return click.option("--model", "model", default=default, required=required, show_default=default is not None,
                            metavar="NAME|FOLDER", help=help)(f)

    return decorate


def model_source(value: str | Path, names) -> tuple[str, str | Path]:
    """('folder', Path) for an existing path, ('config', name) for a named config; else one clear error."""
    path = Path(value)
    if path.exists():
        if not path.is_dir():
            raise PaperzooError(f"--model {value}: expected a checkpoint folder (model.safetensors + config.json), got a file")
        return "folder", path
    names = list(names)
    if str(value) in names:
        return "config", str(value)
    raise PaperzooError(f"--model {value!r}: no such checkpoint folder, and not a named config ({', '.join(names)})")


def reproduce_command(system: str, doc: str, quick_help: str) -> click.Command:
    """`paperzoo <system> reproduce`: the same as `paperzoo reproduce <system>` (the expected time
    first, cached runs reused, OUT/<system>/ written and OUT/REPORT.md rebuilt from every saved report)."""

    @click.command("reproduce", help=doc)
    @click.option("--quick", is_flag=True, help=quick_help)
    @out_option("reproduction", f"Report folder; results go to OUT/{system}/.")
    @click.option("--record", is_flag=True, help="Maintainers: keep this full run's values in the package (reproduced.json).")
    @device_option
    @seed_option
    def reproduce(quick, out, record, device, seed):
        from paperzoo.reproducing import run_reproductions

        run_reproductions(system, quick, out, device, seed, record=record)

    return reproduce
