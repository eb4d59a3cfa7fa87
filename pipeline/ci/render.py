"""Rendering the platform views through the templates shipped inside this package.

:mod:`pipeline.ci.github` and :mod:`pipeline.ci.gitlab` turn a
:class:`CiPipeline` into typed views; the jinja2 templates in
``pipeline/ci/templates/`` lay them out. The templates are read only through
:mod:`importlib.resources` (a checkout, an installed wheel, a zipped one: the
same lookup), and every string reaches YAML through the ``q`` or ``one_line``
filter (:mod:`pipeline.ci.view`).
"""

from __future__ import annotations

from dataclasses import fields
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from pipeline.ci.github import github_view, zizmor_view
from pipeline.ci.gitlab import gitlab_view
from pipeline.ci.model import CiPipeline, Workflow
from pipeline.ci.view import one_line, quote
from pipeline.foundation.errors import OperationFailed

GITHUB_CI = ".github/workflows/ci.yml"
GITHUB_RELEASE = ".github/workflows/release.yml"
GITHUB_ZIZMOR = ".github/zizmor.yml"
GITLAB_CI = ".gitlab-ci.yml"

TEMPLATES = {
    GITHUB_CI: "github-ci.yml.j2",
    GITHUB_RELEASE: "github-release.yml.j2",
    GITHUB_ZIZMOR: "zizmor.yml.j2",
    GITLAB_CI: "gitlab-ci.yml.j2",
}
INCLUDED = ("github-jobs.yml.j2",)  # included by both GitHub workflows


def template_directory() -> Traversable:
    """The one place templates are read from: ``templates/`` of this package."""
    return resources.files("pipeline.ci").joinpath("templates")


def template_sources() -> dict[str, str]:
    """Template name -> text."""
    directory = template_directory()
    sources = (
        {t.name: t.read_text(encoding="utf-8") for t in directory.iterdir() if t.name.endswith(".j2")}
        if directory.is_dir() else {}
    )
    missing = sorted({*TEMPLATES.values(), *INCLUDED} - set(sources))
    if missing:
        raise OperationFailed(
            f"CI templates {', '.join(missing)} missing from the package (looked in {directory})",
            "reinstall cargo-gpu-pipeline: the wheel ships them as pipeline/ci/templates/",
        )
    return sources


_ENVIRONMENT: Any = None


def environment() -> Any:
    """The jinja2 environment (created once): strict undefined, `{{{ }}}` delimiters, no autoescape."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import jinja2  # heavy: only when rendering

        env = jinja2.Environment(
            loader=jinja2.DictLoader(template_sources()),
            undefined=jinja2.StrictUndefined,
            block_start_string="{{%",
            block_end_string="%}}",
            variable_start_string="{{{",
            variable_end_string="}}}",
            comment_start_string="{{#",
            comment_end_string="#}}",
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701 - YAML, not HTML; values are quoted with `q`
        )
        env.filters["q"] = quote
        env.filters["one_line"] = one_line
        _ENVIRONMENT = env
    return _ENVIRONMENT


def _render(rel: str, view: Any) -> str:
    # The view's fields are the template's variables (one level: nested views stay typed objects).
    return environment().get_template(TEMPLATES[rel]).render({f.name: getattr(view, f.name) for f in fields(view)})


def output_paths(settings: Any) -> dict[str, str]:
    """Template key -> repository-relative path it is written to (the file names are configurable)."""
    return {
        GITHUB_CI: f".github/workflows/{settings.github_ci_file}",
        GITHUB_RELEASE: f".github/workflows/{settings.github_release_file}",
        GITHUB_ZIZMOR: GITHUB_ZIZMOR,
        GITLAB_CI: settings.gitlab_file,
    }


def render_all(pipeline: CiPipeline) -> dict[str, str]:
    """Repository-relative path -> file text for every file the configuration asks for."""
    files: dict[str, str] = {}
    settings = pipeline.settings
    paths = output_paths(settings)
    if settings.github:
        files[paths[GITHUB_CI]] = _render(GITHUB_CI, github_view(pipeline, Workflow.CI))
        if pipeline.release_jobs:
            files[paths[GITHUB_RELEASE]] = _render(GITHUB_RELEASE, github_view(pipeline, Workflow.RELEASE))
        files[paths[GITHUB_ZIZMOR]] = _render(GITHUB_ZIZMOR, zizmor_view(pipeline))
    if settings.gitlab:
        files[paths[GITLAB_CI]] = _render(GITLAB_CI, gitlab_view(pipeline))
    # Included templates lose their last newline to trim_blocks: end every file with exactly one.
    return {rel: text.rstrip("\n") + "\n" for rel, text in files.items()}
