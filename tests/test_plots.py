"""`genderface plots`: the plots page renders in headless Chromium with no network at all."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genderface.commands.plots import page_template

from .conftest import REPO, Project, unavailable

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--virtual-time-budget=15000",  # let vega-embed finish before the DOM is dumped
    "--dump-dom",
]


def test_the_template_carries_vega_inline_and_loads_nothing():
    template = page_template()
    assert template.count("{plot_divs}") == 1
    assert "{scripts}" not in template  # where DVC would put its CDN <script src=...> tags
    assert re.findall(r"<script[^>]*\bsrc=", template) == []
    assert "vegaEmbed" in template and "vegaLite" in template


# A mark group with at least one drawn item: a line, bar, point, area or rule of the data, not
# the frame, axes or legend (Vega's SVG renderer nests each item under its mark's group).
DATA_MARK = re.compile(r'<g class="mark-(?:line|rect|symbol|area|rule)[^"]*"[^>]*><(?:path|line)')


def declared_charts() -> list[str]:
    """Titles (or file names) of the Vega charts dvc.yaml declares; image plots are <img>. The
    groups chart is drawn (empty) even without an attributes.csv."""
    charts = []
    for entry in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]:
        ((name, spec),) = entry.items()
        if not name.endswith(".png"):
            charts.append(spec.get("title", name))
    return charts


def rendered(page: Path, tmp: Path) -> list[str]:
    """The page as headless Chromium leaves it, run in a network namespace of its own: no
    interface but a downed loopback, so nothing can be fetched. Returns each drawn chart's SVG."""
    if CHROMIUM is None:
        unavailable("chromium not installed (Debian: apt-get install chromium; .ci/run does)")
    run = subprocess.run(
        ["unshare", "--net", CHROMIUM, f"--user-data-dir={tmp}", *CHROMIUM_FLAGS, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return re.findall(r'<svg [^>]*class="marks".*?</svg>', run.stdout, flags=re.DOTALL)


def plots_command(project: Project, *args: str) -> Path:
    """The installed console script, as a user runs it; returns the page it wrote."""
    output = project.run(str(Path(sys.executable).with_name("genderface")), "plots", *args)
    page = Path(output.strip().removeprefix("file://"))
    assert page.is_file() and page.is_relative_to(project.root)
    return page


@pytest.mark.slow
def test_the_page_of_one_revision_renders_every_chart_offline(reproduced_project, tmp_path):
    project = Project(tmp_path / "project", template=reproduced_project)
    page = plots_command(project)
    charts = rendered(page, tmp_path / "chromium")
    assert len(charts) == len(declared_charts()) == 10
    # data drawn, not an empty frame: every chart but the external groups one (no
    # attributes.csv here; the test split's groups always have the source)
    assert sum(bool(DATA_MARK.search(svg)) for svg in charts) == len(charts) - 1
    html = page.read_text()
    for title in declared_charts():
        # the groups chart has no data (and no title) without evaluate.external's attributes.csv
        assert title in html or title.startswith("External accuracy by group")
    assert re.search(r'<img src="static/[^"]*mistakes\.png">', html)
    assert list((page.parent / "static").glob("*mistakes.png"))
    # The control: DVC's own page, same browser, same namespace, draws nothing (it needs a CDN).
    project.run("dvc", "plots", "show", "-o", "cdn-page")
    assert rendered(project.root / "cdn-page" / "index.html", tmp_path / "chromium-cdn") == []


@pytest.mark.slow
def test_the_page_of_a_diff_renders_every_chart_with_both_revisions(reseeded_project, tmp_path):
    """The tiny project before (HEAD~1) and after another split seed (the workspace)."""
    project = Project(tmp_path / "project", template=reseeded_project.project)
    page = plots_command(project, "HEAD~1", "-o", "diff-page")
    assert page == project.root / "diff-page" / "index.html"
    charts = rendered(page, tmp_path / "chromium")
    assert len(charts) == len(declared_charts())
    legends = [svg for svg in charts if ">HEAD~1<" in svg and ">workspace<" in svg]
    assert len(legends) >= len(charts) - 1  # the confusion matrix facets by revision instead
    gallery = r'<img src="static/[^"]*mistakes\.png">'
    assert len(re.findall(gallery, page.read_text())) == 2  # the gallery of each revision


def test_a_bad_revision_is_one_error_line(tmp_path):
    project = Project(tmp_path / "project")
    exe = Path(sys.executable).with_name("genderface")
    run = subprocess.run(
        [str(exe), "plots", "no-such-rev"],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert run.stderr.splitlines() == [run.stderr.strip()]
    assert run.stderr.startswith("error: dvc plots diff:") and "no-such-rev" in run.stderr
