"""The docs site builds with strict checking (every page in the nav, every link and anchor found),
and the README stays the short front door whose links all reach a page."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.kit.paths import REPO


def test_the_docs_site_builds_strictly(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    proc = subprocess.run([str(mkdocs), "build", "--strict", "-d", str(tmp_path / "site")], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "site" / "results" / "index.html").is_file()


def test_the_readme_is_short_and_its_links_reach_pages():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith("http")]
    assert local and all((REPO / link).is_file() for link in local), local
    # Every page of the site is linked from the README's table.
    pages = {p.name for p in (REPO / "docs").glob("*.md")} - {"index.md"}
    assert pages <= {Path(link).name for link in local}, pages - {Path(link).name for link in local}
