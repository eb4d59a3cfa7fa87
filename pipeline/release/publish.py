"""The publish step: `cargo publish` for each crate of a publish plan, in its order.

Each crate goes up alone (`cargo publish -p NAME [--registry NAME]`, run in the workspace
root so cargo's own configuration and credentials apply); cargo verifies the packaged crate
against the registry, which holds its workspace dependencies by then because the plan puts
them first, and waits until the index shows the new version before returning.

A failure stops the step and names what went up and what did not: running the publish
again skips the versions the registry already has, so it resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.foundation import proc
from pipeline.foundation.errors import OperationFailed
from pipeline.foundation.output import log
from pipeline.release.publish_plan import CRATES_IO, PublishPlan
from pipeline.workspace.model import Workspace

# cargo's words when the registry (or its index, checked first) already has the version.
_ALREADY = ("already exists on", "already uploaded", "already exists in")


@dataclass(frozen=True)
class PublishOutcome:
    registry: str
    published: tuple[str, ...] = ()
    already: tuple[str, ...] = ()  # found in the registry by cargo itself (the index could not be read first)
    skipped: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {"registry": self.registry, "published": list(self.published), "already": list(self.already),
                "skipped": list(self.skipped)}


class PublishFailed(OperationFailed):
    """A crate failed to publish; the ones before it are up, the rest are not."""

    def __init__(self, crate: str, reason: str, published: Sequence[str], pending: Sequence[str],
                 hint: str) -> None:
        self.crate = crate
        self.published = tuple(published)
        self.pending = tuple(pending)
        lines = [
            f"`cargo publish -p {crate}` failed: {reason}",
            "published: " + (", ".join(published) or "none"),
            "not yet published: " + ", ".join(pending),
        ]
        super().__init__("\n".join(lines), hint)


def argv(crate: str, registry: str, extra: Sequence[str] = ()) -> list[str]:
    command = ["cargo", "publish", "-p", crate]
    if registry != CRATES_IO:
        command += ["--registry", registry]
    return [*command, *extra]


def run(
    root: Path,
    plan: PublishPlan,
    *,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    on_published: Callable[[str, str], None] | None = None,
    resume_hint: str = "fix the problem above and publish again: versions already in the registry are skipped",
) -> PublishOutcome:
    """Publish ``plan``'s crates in order; ``on_published(crate, version)`` after each one goes up."""
    if plan.problems:
        # Each problem carries its own hint line; nothing has been uploaded.
        raise OperationFailed("cannot publish, nothing was uploaded:\n" + "\n".join(plan.problems))
    published: list[str] = []
    already: list[str] = []
    labels = [f"{s.crate} {s.version}" for s in plan.steps]
    for index, step in enumerate(plan.steps):
        command = argv(step.crate, plan.registry, extra_args)
        log(f"release: [{index + 1}/{len(plan.steps)}] {' '.join(command)}")
        result = proc.run(command, cwd=root, env=dict(env) if env is not None else None, check=False)
        if result.ok:
            published.append(labels[index])
        elif any(marker in result.stderr for marker in _ALREADY):
            log(f"release: {step.crate} {step.version} is already in registry `{plan.registry}`: skipped")
            already.append(labels[index])
        else:
            reason = proc.tail(result.stderr or result.stdout, 6) or f"exit code {result.returncode}"
            raise PublishFailed(step.crate, reason, [*published, *already], labels[index:], resume_hint)
        if on_published is not None:
            on_published(step.crate, step.version)
    return PublishOutcome(
        plan.registry, tuple(published), tuple(already), tuple(f"{s.crate} {s.version}" for s in plan.skipped)
    )


def plan_for(
    ws: Workspace,
    registry: str | None,
    *,
    versions: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    never: Collection[str] = (),
) -> PublishPlan:
    """Gather the registry's facts (cargo's config, its sparse index) and plan the publish of ``ws``
    (``never``: `release.never-publish`)."""
    from pipeline.release.publish_plan import plan_publish
    from pipeline.release.registry import published_versions, registry_facts

    facts = registry_facts(ws.root, registry, env)
    external = {d.name for p in ws.members for d in p.dependencies if d.external_path}
    published = published_versions(facts, [*ws.names, *sorted(external)])
    return plan_publish(ws, registry=facts.name, published=published, versions=versions,
                        crates_io_is_registry=facts.crates_io_is_registry, never=never)
