"""What a map from a source skeleton onto the canonical one is: the shared base of the maps.

Owns `SkeletonMap` (canonical joint -> weighted source joints), `UnknownSkeletonError`, the
namespace stripping every name comparison uses and the joint-map help text. The known families
(`storage.joint_maps`) and the name-convention matcher (`storage.rig_matching`) both build on
it, so neither has to import the other's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from storage.errors import UserInputError
from storage.skeleton import JOINT_NAMES

JointSources = tuple[tuple[str, float], ...]


class UnknownSkeletonError(UserInputError, ValueError):
    """A joint-name list matches no known skeleton family, or lacks a joint a map needs."""


@dataclass(frozen=True)
class SkeletonMap:
    """canonical joint name -> ((source joint name, weight), ...), weights summing to 1.

    `family_joints` lists every joint the family is known to have (defaults to the sources); it
    breaks ties when two maps' sources are all present (a CMU-31 file also holds every m21 name).
    `inferred` marks a map built from one file's joint names (`storage.rig_matching.match_rig`),
    whose result must pass `storage.rig_matching.check_rig_geometry`.
    """

    name: str
    joint_sources: Mapping[str, JointSources]
    family_joints: tuple[str, ...] = ()
    inferred: bool = False

    def __post_init__(self) -> None:
        if set(self.joint_sources) != set(JOINT_NAMES):
            missing = sorted(set(JOINT_NAMES) - set(self.joint_sources))
            extra = sorted(set(self.joint_sources) - set(JOINT_NAMES))
            raise ValueError(f"map {self.name}: missing {missing}, unexpected {extra}")
        for joint, sources in self.joint_sources.items():
            total = sum(weight for _, weight in sources)
            if not sources or abs(total - 1.0) > 1e-9:
                raise ValueError(f"map {self.name}: weights of {joint} sum to {total}, not 1")
        if not self.family_joints:
            object.__setattr__(self, "family_joints", self.source_names)

    @property
    def source_names(self) -> tuple[str, ...]:
        """Every source joint the map reads, in first-use order."""
        names = (name for joint in JOINT_NAMES for name, _ in self.joint_sources[joint])
        return tuple(dict.fromkeys(names))


def strip_namespace(name: str) -> str:
    """ "mixamorig:Hips" -> "Hips", "Armature|Hips" -> "Hips"."""
    return name.replace("|", ":").rsplit(":", 1)[-1].strip()


def joint_map_help() -> str:
    """How to write a joint map, for every refusal of a rig or of a map."""
    return (
        "a YAML or JSON mapping with one `canonical: source_joint` line for each of "
        + ", ".join(JOINT_NAMES)
    )
