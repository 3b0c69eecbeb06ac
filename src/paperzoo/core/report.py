"""The reproduction report: per paper, per claim, the paper's figure, ours, and whether
it holds; written as `reproduction/REPORT.md` with PNG plots beside it.

Every claim's verdict comes from `paperzoo.core.verdict` (seed-mean difference beyond
two standard errors over at least three seeds, and above the measured baseline), and
carries its numbers, so the report never says "yes" where the seeds disagree.

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
from paperzoo.core.verdict import NO, NOT_MEASURED, NOT_SIGNIFICANT, YES, Verdict  # noqa: E402


@dataclass
class Claim:
    """One headline claim: what the paper says, what we measured, and the shared rule's verdict."""

    claim: str
    paper: str
    ours: str
    verdict: Verdict
    note: str = ""

    def __post_init__(self):
        if isinstance(self.verdict, dict):
            self.verdict = Verdict.from_dict(self.verdict)
        if not isinstance(self.verdict, Verdict):
            raise TypeError(f"Claim {self.claim!r}: verdict must come from paperzoo.core.verdict "
                            f"(better / equivalent / deterministic / unmeasured), got {self.verdict!r}")

    @property
    def holds(self) -> str:
        return self.verdict.holds


def summary(claims: list[Claim]) -> str:
    """'2 of 7 hold, 3 not significant, 2 no' (claims not measured are left out of the count)."""
    measured = [c for c in claims if c.holds != NOT_MEASURED]
    counts = {v: sum(c.holds == v for c in measured) for v in (YES, NOT_SIGNIFICANT, NO)}
    parts = [f"{counts[YES]} of {len(measured)} hold"]
    parts += [f"{counts[v]} {v}" for v in (NOT_SIGNIFICANT, NO) if counts[v]]
    return ", ".join(parts)


def claims_table(claims: list[Claim]) -> str:
    """The Markdown claims table shared by REPORT.md and the systems' READMEs."""
    lines = ["| claim | paper | ours | holds |", "| --- | --- | --- | --- |"]
    for c in claims:
        verdict = c.verdict.text()
        if c.holds == NO:
            verdict = "**no**" + verdict[len(NO):]
        note = f"; {c.note}" if c.note else ""
        lines.append(f"| {c.claim} | {c.paper} | {c.ours} | {verdict}{note} |")
    return "\n".join(lines)


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
    quick: bool = False  # a smoke run: its numbers are not the reported ones

    def to_markdown(self) -> str:
        lines = [f"## {self.system}: {self.title} (arXiv {self.arxiv})", ""]
        if self.quick:
            lines += ["**QUICK smoke run**: tiny budgets and seeds, to check that everything runs. "
                      "Its numbers and verdicts mean nothing; run without `--quick` for the reproduction.", ""]
        if self.setup:
            lines += [self.setup, ""]
        lines += [f"Command: `{self.command}`", "", claims_table(self.claims), ""]
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
        "world (`paperzoo.world`). A claim holds when the seed-mean difference in the paper's "
        "direction exceeds twice its standard error over at least 3 seeds and beats the measured "
        "baseline (`paperzoo.core.verdict`); otherwise it says 'not significant' or 'no', with the numbers.",
        "",
        "| system | paper | claims holding |",
        "| --- | --- | --- |",
    ]
    sections = []
    for name, title, arxiv in systems:
        path = root / name / "report.json"
        try:
            report = SystemReport.load(path) if path.is_file() else None
        except (TypeError, KeyError, ValueError):  # written before the shared verdict rule
            parts.append(f"| {name} | {title} | saved by an older paperzoo: rerun `paperzoo reproduce {name}` |")
            continue
        if report is not None:
            smoke = " (QUICK smoke run)" if report.quick else ""
            parts.append(f"| {name} | {title} | {summary(report.claims)}{smoke} |")
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
