"""The plots page, readable without internet.

`dvc plots show` and `dvc plots diff` write an HTML page whose charts are drawn by Vega,
Vega-Lite and vega-embed loaded from a CDN: on an air-gapped machine the page stays blank. DVC
takes an `--html-template`; ours carries the three libraries inline, from the bundle that the
pinned vl-convert-python package builds from its own copies (nothing is fetched, then or later),
so the page is one self-contained file (plus DVC's image plots beside it).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from genderface.errors import GenderfaceError

# DVC's plot templates are Vega-Lite 5 specs ("$schema": .../vega-lite/v5.json).
VEGA_LITE = "5.21"
DEFAULT_OUT = Path("dvc_plots")  # where DVC writes them by default

TEMPLATE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>genderface plots</title>
<script>
{bundle}
</script>
<style>
table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def page_template() -> str:
    """DVC's HTML template with Vega, Vega-Lite and vega-embed inlined (about 0.9 MB)."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE)
    for placeholder in ("{plot_divs}", "{scripts}", "{refresh_tag}", "</script"):
        if placeholder in bundle:  # DVC would fill it in / the browser would end the script
            raise GenderfaceError(f"the Vega bundle contains {placeholder!r}; cannot inline it")
    return TEMPLATE.format(bundle=bundle)


def render(revisions: list[str], out: Path) -> Path:
    """`dvc plots show` (no revisions) or `dvc plots diff REVISIONS` into out/index.html."""
    command = ["diff", *revisions] if revisions else ["show"]
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "offline.html"
        template.write_text(page_template(), encoding="utf-8")
        options = ["--html-template", str(template), "-o", str(out)]
        run = subprocess.run(
            [sys.executable, "-m", "dvc", "plots", *command, *options],
            capture_output=True,
            text=True,
        )
    if run.returncode != 0:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("ERROR: ") if lines else f"exit code {run.returncode}"
        raise GenderfaceError(f"dvc plots {command[0]}: {reason}")
    return out / "index.html"
