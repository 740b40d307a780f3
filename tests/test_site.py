"""`rlcourse site`: the website is built offline from the executed student lessons."""

from __future__ import annotations

import re
import urllib.parse

import nbformat
import pytest
from solution_code import html_text, leaked, solution_lines

from rlcourse.publish import Publish, load_publish
from rlcourse.site import book_config, build_site, home_page, table_of_contents
from rlcourse.syllabus import load_syllabus

SYL = load_syllabus()


def test_config_and_toc_follow_the_syllabus_and_publish_file():
    pub = Publish(repository="https://github.com/me/course", jupyterhub="https://hub.uni.edu")
    config = book_config(SYL, pub)
    assert config["repository"] == {
        "url": "https://github.com/me/course",
        "path_to_book": "lessons",
        "branch": "main",
    }
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["jupyterhub_url"] == "https://hub.uni.edu"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert config["execute"]["execute_notebooks"] == "off"
    toc = table_of_contents(SYL)
    assert [c["file"] for c in toc["chapters"]] == [x.slug for x in SYL.lessons]
    page = home_page(SYL, pub)
    assert "git clone https://github.com/me/course && cd course\n" in page
    git = Publish(repository="https://example.org/me/course.git")
    assert "&& cd course\n" in home_page(SYL, git)
    for lesson in SYL.lessons:
        assert f"]({lesson.slug}.ipynb)" in page and lesson.title in page


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("jupyter_book")
    out = tmp_path_factory.mktemp("site")
    report = build_site(out, jobs=2)
    print(
        f"site: {len(report.pages)} lesson pages in {report.seconds:.1f} s, "
        f"{report.size_bytes / 1e6:.1f} MB"
    )
    return report


def test_site_builds_without_warnings(site):
    assert site.warnings == ()
    assert (site.html / "index.html").is_file()


@pytest.mark.parametrize("lesson", SYL.lessons, ids=lambda x: x.id)
def test_lesson_page(site, lesson):
    page = site.html / f"{lesson.slug}.html"
    assert page in site.pages and page.is_file()
    text = page.read_text(encoding="utf-8")
    # the student lesson, executed: its title, its checks "not attempted", no solution code
    assert lesson.title in html_text(text)
    assert "not attempted" in html_text(text)
    assert leaked(solution_lines(lesson), html_text(text)) == []
    source = site.html / "_sources" / lesson.notebook
    assert leaked(solution_lines(lesson), source.read_text(encoding="utf-8")) == []
    # every figure the executed lesson drew is on the page
    executed = nbformat.read(site.html.parent.parent / "source" / lesson.notebook, as_version=4)
    n_figures = sum(
        "image/png" in o.get("data", {}) for c in executed.cells for o in c.get("outputs", [])
    )
    images = re.findall(r'<img[^>]+src="(_images/[^"]+)"', text)
    assert len(images) >= n_figures
    assert all((site.html / src).is_file() for src in images)
    # launch buttons and download button
    pub = load_publish()
    owner, name = pub.github
    path = f"lessons/{lesson.notebook}"
    hrefs = {urllib.parse.unquote(h) for h in re.findall(r'href="([^"]+)"', text)}
    assert f"{pub.binderhub}/v2/gh/{owner}/{name}/{pub.branch}?urlpath=lab/tree/{path}" in hrefs
    assert f"{pub.colab}/github/{owner}/{name}/blob/{pub.branch}/{path}" in hrefs
    hub = (
        f"{pub.jupyterhub}/hub/user-redirect/git-pull?repo={pub.repository}"
        f"&urlpath=lab/tree/{name}/{path}&branch={pub.branch}"
    )
    assert hub in hrefs
    assert f"_sources/{lesson.notebook}" in hrefs


def test_home_page_lists_every_lesson(site):
    text = (site.html / "index.html").read_text(encoding="utf-8")
    for lesson in SYL.lessons:
        assert f'href="{lesson.slug}.html"' in text


def test_cli_reports_the_build_and_a_missing_extra(monkeypatch, capsys, tmp_path):
    import rlcourse.site as site_module
    from rlcourse.cli import main
    from rlcourse.site import SiteReport

    def fake(out, *, timeout, jobs):
        assert (timeout, jobs) == (600.0, 2)
        return SiteReport(tmp_path, (tmp_path / "00_welcome.html",), 12.0, 3_400_000, ())

    monkeypatch.setattr(site_module, "build_site", fake)
    assert main(["site", "--out", str(tmp_path), "--jobs", "2"]) == 0
    assert "built 1 lesson pages in 12 s (3.4 MB, 0 warnings)" in capsys.readouterr().out

    def missing(out, *, timeout, jobs):
        raise ModuleNotFoundError(site_module.INSTALL_HINT)

    monkeypatch.setattr(site_module, "build_site", missing)
    assert main(["site", "--out", str(tmp_path)]) == 2
    assert 'pip install "rlcourse[site]"' in capsys.readouterr().err


def test_site_never_deletes_a_folder_it_did_not_write(tmp_path):
    pytest.importorskip("jupyter_book")
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "notes.md").write_text("mine")
    with pytest.raises(ValueError, match="out: .* is not a site source written here"):
        build_site(tmp_path)
    assert (tmp_path / "source" / "notes.md").read_text() == "mine"
