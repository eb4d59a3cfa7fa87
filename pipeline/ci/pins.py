"""Commit pins of the GitHub actions the generated workflows use.

Actions are referenced by full commit SHA (a tag can be moved to other code);
the version is written next to it as a `# vX.Y.Z` comment so people and
Dependabot/Renovate can read it. `[workspace.metadata.pipeline.ci.pins]`
overrides an entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    action: str
    sha: str
    version: str

    @property
    def uses(self) -> str:
        return f"{self.action}@{self.sha}"


DEFAULT_PINS: Mapping[str, Pin] = {
    pin.action: pin
    for pin in (
        Pin("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
        Pin("actions/cache", "5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
        Pin("actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
        Pin("actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
        # Sigstore-signed SLSA provenance for each release file (`gh attestation verify` checks it).
        Pin("actions/attest-build-provenance", "e8998f949152b193b063cb0ec769d69d929409be", "v2.4.0"),
        # `ci.sccache = "gha"`: installs sccache and hands it the Actions cache service's token.
        Pin("mozilla-actions/sccache-action", "fc920bf0ec8de6ee65d409111f7ec508035751ba", "v0.0.11"),
    )
}


def resolve_pins(overrides: Mapping[str, object]) -> dict[str, Pin]:
    """The default table with configured overrides (objects with ``sha`` and ``version``) applied."""
    pins = dict(DEFAULT_PINS)
    for action, override in overrides.items():
        pins[action] = Pin(action, override.sha, override.version)  # type: ignore[attr-defined]
    return pins
