"""CycloneDX 1.6 SBOMs for release artifacts, built with cyclonedx-python-lib.

One SBOM per artifact (``<artifact>.cdx.json`` beside it): the artifact itself as the
metadata component (with its SHA-256), every crate of its dependency graph from
``Cargo.lock`` as a library component (``pkg:cargo/NAME@VERSION`` purl, the lock's SHA-256
checksum for registry crates, the source for the others), the graph's edges as CycloneDX
dependencies, and — for artifacts holding GPU code — the CUDA toolkit as a component whose
properties carry the nvcc version, the target architectures and the minimum driver.

Reproducible like the tarballs: the serial number is derived from the artifact's hash and
the timestamp is the release commit's time, so the same release writes the same bytes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.deps.lockfile import LockedPackage, Lockfile
from pipeline.workspace.model import DepKind, Workspace

SPEC_VERSION = "1.6"
# NVIDIA's minimum Linux driver for each CUDA major version (minor-version compatibility):
# a toolkit of that major runs on any driver at or above it.
MINIMUM_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}


@dataclass(frozen=True)
class CudaFacts:
    nvcc: str | None
    architectures: tuple[str, ...]
    ptx: str | None = None

    @property
    def minimum_driver(self) -> str | None:
        match = re.match(r"(\d+)\.", self.nvcc or "")
        return MINIMUM_DRIVER.get(int(match.group(1))) if match else None


@dataclass(frozen=True)
class ArtifactFacts:
    name: str  # the file name in dist/
    sha256: str
    version: str
    crates: tuple[str, ...]  # workspace members whose code the artifact holds (the graph's roots)
    cuda: CudaFacts | None = None


def dev_only_edges(ws: Workspace) -> frozenset[tuple[str, str]]:
    """(member, dependency package) pairs that only dev-dependencies connect: not shipped in an artifact."""
    edges: dict[tuple[str, str], set[DepKind]] = {}
    for package in ws.members:
        for dep in package.dependencies:
            edges.setdefault((package.name, dep.name), set()).add(dep.kind)
    return frozenset(edge for edge, kinds in edges.items() if kinds == {DepKind.DEV})


def closure(lock: Lockfile, roots: Iterable[str], skip_edges: frozenset[tuple[str, str]] = frozenset()) -> list[int]:
    """Indexes of the lock's packages reachable from the local packages named ``roots``."""
    wanted = set(roots)
    stack = [i for i, p in enumerate(lock.packages) if p.is_local and p.name in wanted]
    seen: set[int] = set()
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        package = lock.packages[index]
        for dep in package.dependencies:
            if package.is_local and (package.name, lock.packages[dep].name) in skip_edges:
                continue
            stack.append(dep)
    return sorted(seen, key=lambda i: (lock.packages[i].name, lock.packages[i].version))


def _purl(package: LockedPackage) -> str:
    from packageurl import PackageURL

    qualifiers: dict[str, str] = {}
    if package.source and not package.is_crates_io:
        if package.source.startswith(("registry+", "sparse+")):
            qualifiers["repository_url"] = package.source.split("+", 1)[1]
        else:
            qualifiers["vcs_url"] = package.source
    return str(PackageURL(type="cargo", name=package.name, version=package.version, qualifiers=qualifiers or None))


def build(
    artifact: ArtifactFacts,
    lock: Lockfile,
    *,
    project: str,
    timestamp: int,
    skip_edges: frozenset[tuple[str, str]] = frozenset(),
    tool_version: str = "",
) -> str:
    """The SBOM of ``artifact`` as CycloneDX 1.6 JSON text."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentScope, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    indexes = closure(lock, artifact.crates, skip_edges)
    refs = {i: f"crate:{lock.packages[i].name}@{lock.packages[i].version}" for i in indexes}
    components: dict[int, Component] = {}
    for i in indexes:
        package = lock.packages[i]
        hashes = [HashType(alg=HashAlgorithm.SHA_256, content=package.checksum)] if package.checksum else []
        properties = [Property(name="cargo:source", value=package.source or "path")]
        components[i] = Component(
            name=package.name, version=package.version, type=ComponentType.LIBRARY, bom_ref=refs[i],
            purl=PackageURL.from_string(_purl(package)), hashes=hashes, properties=properties,
            scope=ComponentScope.REQUIRED,
        )
    subject = Component(
        name=artifact.name, version=artifact.version, type=ComponentType.APPLICATION,
        bom_ref=f"artifact:{artifact.name}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact.sha256)],
        properties=[Property(name="pipeline:crates", value=",".join(artifact.crates))],
    )
    extra: list[Component] = []
    if artifact.cuda is not None:
        cuda = artifact.cuda
        cuda_properties = [
            Property(name="cuda:nvcc-version", value=cuda.nvcc or "unknown"),
            Property(name="cuda:architectures", value=",".join(cuda.architectures)),
        ]
        if cuda.ptx:
            cuda_properties.append(Property(name="cuda:ptx", value=cuda.ptx))
        if cuda.minimum_driver:
            cuda_properties.append(Property(name="cuda:minimum-driver", value=cuda.minimum_driver))
        extra.append(Component(
            name="cuda-toolkit", version=cuda.nvcc or "unknown", type=ComponentType.FRAMEWORK,
            bom_ref="toolchain:cuda", group="nvidia", scope=ComponentScope.REQUIRED, properties=cuda_properties,
        ))
    tools = ToolRepository(components=[Component(
        name="cargo-gpu-pipeline", version=tool_version or "unknown", type=ComponentType.APPLICATION,
    )])
    metadata = BomMetaData(
        timestamp=datetime.fromtimestamp(timestamp, tz=UTC), component=subject, tools=tools,
        properties=[Property(name="pipeline:project", value=project)],
    )
    bom = Bom(
        components=[*components.values(), *extra], metadata=metadata,
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"cargo-gpu-pipeline:{artifact.name}:{artifact.sha256}"),
    )
    roots = [components[i] for i in indexes if lock.packages[i].is_local and lock.packages[i].name in artifact.crates]
    bom.register_dependency(subject, [*roots, *extra])
    for i in indexes:
        package = lock.packages[i]
        deps = [
            components[d] for d in package.dependencies
            if d in components and not (package.is_local and (package.name, lock.packages[d].name) in skip_edges)
        ]
        bom.register_dependency(components[i], deps)
    for component in extra:
        bom.register_dependency(component, [])
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    # The library orders keys stably; sort once more so the bytes never depend on set order.
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def sbom_name(artifact: str) -> str:
    return f"{artifact.removesuffix('.tar.gz')}.cdx.json"


def validate(text: str) -> list[str]:
    """Errors the library's CycloneDX 1.6 JSON schema validator finds (empty: valid)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    if errors is None:
        return []
    if not isinstance(errors, Iterable):
        errors = [errors]
    return [str(e) for e in errors]


def lock_components(text: str) -> Mapping[str, Sequence[str]]:
    """purl -> SHA-256 hashes, read back from SBOM text (for checks and tests)."""
    data = json.loads(text)
    return {c["purl"]: [h["content"] for h in c.get("hashes", [])] for c in data.get("components", []) if "purl" in c}
