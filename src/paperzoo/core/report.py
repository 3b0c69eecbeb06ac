"""The reproduction report: per paper, per claim, the paper's figure, ours, and whether
the direction holds; written as `reproduction/REPORT.md` with PNG plots beside it.

Each system's `reproduce` returns a `SystemReport`; it is saved as
`reproduction/<system>/report.json`, and REPORT.md is rebuilt from every saved system
report, so reproducing one system never erases another's results. A claim that does
not reproduce is reported as such, with the reason in its note.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from paperzoo.core.atomic import atomic_path  # noqa: E402


@dataclass
class Claim:
    """One headline claim: what the paper says, what we measured, and whether the direction holds."""

    claim: str
    paper: str
    ours: str
    holds: bool | None  # None: not measured in this run
    note: str = ""


@dataclass
class SystemReport:
    system: str
    title: str
    arxiv: str
    command: str
    claims: list[Claim] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  # paths relative to the report folder
    setup: str = ""  # one paragraph: the small-scale setting (model, data, steps, seeds)
    tables: list[str] = field(default_factory=list)  # extra Markdown tables (full metrics)

    def to_markdown(self) -> str:
        lines = [f"## {self.system}: {self.title} (arXiv {self.arxiv})", ""]
        if self.setup:
            lines += [self.setup, ""]
        lines += [f"Command: `{self.command}`", ""]
        lines += ["| claim | paper | ours | direction holds |", "| --- | --- | --- | --- |"]
        for c in self.claims:
            verdict = {True: "yes", False: "**no**", None: "not measured"}[c.holds]
            note = f" ({c.note})" if c.note else ""
            lines.append(f"| {c.claim} | {c.paper} | {c.ours} | {verdict}{note} |")
        lines.append("")
        for table in self.tables:
            lines += [table, ""]
        for plot in self.plots:
            lines += [f"![{Path(plot).stem}]({plot})", ""]
        return "\n".join(lines)

    def save(self, root: str | Path) -> Path:
        path = Path(root) / self.system / "report.json"
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SystemReport":
        data = json.loads(Path(path).read_text())
        data["claims"] = [Claim(**c) for c in data["claims"]]
        return cls(**data)


def write_report(root: str | Path, systems: list[tuple[str, str, str]]) -> Path:
    """Rebuild `root/REPORT.md` from the saved system reports.

    `systems`: (name, title, arxiv) for all ten, in order; those with no saved report are
    listed as not yet reproduced.
    """
    root = Path(root)
    parts = [
        "# paperzoo reproduction report",
        "",
        "Small-scale reproductions of each paper's headline claims, on CPU, on the procedural "
        "world (`paperzoo.world`). 'direction holds' compares the sign of our effect with the "
        "paper's; a claim that did not reproduce says so.",
        "",
        "| system | paper | claims holding |",
        "| --- | --- | --- |",
    ]
    sections = []
    for name, title, arxiv in systems:
        path = root / name / "report.json"
        if path.is_file():
            report = SystemReport.load(path)
            measured = [c for c in report.claims if c.holds is not None]
            held = sum(c.holds for c in measured)
            parts.append(f"| {name} | {title} | {held} / {len(measured)} |")
            sections.append(report.to_markdown())
        else:
            parts.append(f"| {name} | {title} | not yet reproduced |")
    text = "\n".join(parts + [""] + sections) + "\n"
    out = root / "REPORT.md"
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return out


def save_figure(fig: "plt.Figure", path: str | Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
