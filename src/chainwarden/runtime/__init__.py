"""Runtime analysis: run an image in a sandbox, trace it, profile, harden, drift, watch.

>>> from chainwarden.runtime import ProbeSpec, profile_target
>>> profile = profile_target("oci:./image", [ProbeSpec("command", ("python3", "-V"))])
"""

from __future__ import annotations

from chainwarden.runtime.drift import Deviation, DriftReport, drift_against
from chainwarden.runtime.harden import HardenOptions, HardenReport, harden_target
from chainwarden.runtime.interface import ProfileError, RuntimeAnalysisError, SandboxError, VerificationError
from chainwarden.runtime.profile import ProbeSpec, Profile, ProfileOptions, load_profile, profile_target
from chainwarden.runtime.sandbox import Engine, NetMode, ProcessSpec, Sandbox
from chainwarden.runtime.watch import watch_target

__all__ = [
    "Deviation",
    "DriftReport",
    "Engine",
    "HardenOptions",
    "HardenReport",
    "NetMode",
    "ProbeSpec",
    "ProcessSpec",
    "Profile",
    "ProfileError",
    "ProfileOptions",
    "RuntimeAnalysisError",
    "Sandbox",
    "SandboxError",
    "VerificationError",
    "drift_against",
    "harden_target",
    "load_profile",
    "profile_target",
    "watch_target",
]
