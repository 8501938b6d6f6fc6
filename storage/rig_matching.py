"""Any BVH rig onto the canonical skeleton: name conventions, the hierarchy, a geometry check.

Owns the fallback of `storage.joint_maps.detect_skeleton_map` for rigs outside the known
families. `match_rig` reads each joint name as side + role + number ("mixamorig:LeftForeArm",
"DEF-forearm.L", "L_Elbow", "lradius" are all a left forearm; namespaces, case and the
separators `_ . - :` do not matter) with synonym tables covering Mixamo, CMU, Vicon/MotionBuilder,
Blender/Rigify, SMPL, 3ds Max Biped and Unreal. A name alone is ambiguous: "Shoulder" is the
clavicle in Mixamo but the upper arm in Vicon and SMPL (beside a Collar), "Foot" the ankle in
Mixamo but the toe in SMPL (below an Ankle). The parent chain settles it: the elbow is the
forearm-named ancestor of the wrist, the upper arm the arm-named ancestor of the elbow (an
UpperArm/Arm name beats Shoulder), the toe lies below the ankle, the chest is where the arms
meet and the pelvis where the legs meet. A name can still lie (left and right swapped), so
`check_rig_geometry` checks a matched rig on one frame. Refusals are one line that names the
joints and says how to write a map by hand (`storage.joint_maps.user_joint_map`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from storage.errors import cut_message
from storage.skeleton import JOINT_INDEX, JOINT_NAMES
from storage.skeleton_map import SkeletonMap, UnknownSkeletonError, joint_map_help, strip_namespace

MATCHED_MAP_NAME = "name-matched"
MAX_CHAIN_RATIO = 2.5  # thigh vs shin, upper arm vs forearm
MAX_SIDE_RATIO = 1.5  # left leg vs right leg, left arm vs right arm
MAX_ANCHORS = 8  # wrist/ankle candidates tried per limb (a hostile file may hold thousands)

_ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "pelvis": ("pelvis", "hips", "hip"),
    "spine": ("spine", "ab", "abdomen", "back", "lowerback", "upperback", "torso", "waist")
    + ("chest", "upperchest", "thorax"),
    "neck": ("neck", "lowerneck", "upperneck"),
    "head": ("head", "skull"),
    "collar": ("collar", "clavicle", "clav"),
    "shoulder": ("shoulder",),  # the clavicle or the upper arm: the hierarchy decides
    "upperarm": ("upperarm", "uparm", "arm", "humerus"),
    "forearm": ("forearm", "lowerarm", "lowarm", "elbow", "radius", "ulna"),
    "wrist": ("wrist",),
    "hand": ("hand",),
    "thigh": ("upleg", "upperleg", "thigh", "femur"),
    "hip": ("hipjoint",),  # sided "Hip" too (Vicon, SMPL): the thigh's root
    "shin": ("leg", "lowerleg", "lowleg", "shin", "calf", "knee", "tibia", "shank"),
    "ankle": ("ankle",),
    "foot": ("foot",),  # the ankle, or the toe below an ankle (SMPL)
    "toe": ("toe", "toes", "toebase", "ball"),
}
_ROLE_OF_WORD = {word: role for role, words in _ROLE_WORDS.items() for word in words}
_SIDE_WORDS = dict.fromkeys(("left", "l", "lft"), "left") | dict.fromkeys(
    ("right", "r", "rt", "rgt"), "right"
)
_GLUED_SIDES = (("left", "left"), ("right", "right"), ("l", "left"), ("r", "right"))  # "lhumerus"
# Words of helper bones that are never a body joint (IK targets, twist bones, end points).
_EXCLUDED_WORDS = frozenset(
    {"end", "nub", "tip", "ik", "fk", "ctrl", "ctl", "mch", "org", "pole", "target", "twist"}
    | {"roll", "helper", "effector", "aux"}
)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

# Per limb: (canonical suffix, roles in preference order, where to look: the whole side, the
# ancestors of an earlier joint ("above") or its descendants ("below")).
_ARM_STEPS = (
    ("wrist", ("wrist", "hand"), None),
    ("elbow", ("forearm",), ("above", "wrist")),
    ("shoulder", ("upperarm", "shoulder"), ("above", "elbow")),
)
_LEG_STEPS = (
    ("ankle", ("ankle", "foot"), None),
    ("knee", ("shin",), ("above", "ankle")),
    ("hip", ("thigh", "hip"), ("above", "knee")),
    ("toe", ("toe", "foot"), ("below", "ankle")),
)


@dataclass(frozen=True)
class JointName:
    """What a joint name says: side ("left"/"right"/None), role, its word, trailing number."""

    side: str | None
    role: str | None
    word: str = ""
    number: int = -1


def parse_joint_name(name: str) -> JointName:
    """`"mixamorig:LeftForeArm"` -> left forearm; `"spine.002"` -> spine 2; `"j7"` -> no role."""
    side, core, number = None, [], -1
    for word in (w.lower() for w in _WORDS.findall(strip_namespace(name))):
        if word.isdigit():
            number = int(word[:9])
        elif word in _SIDE_WORDS and side is None:
            side = _SIDE_WORDS[word]
        elif word in _EXCLUDED_WORDS:
            return JointName(None, None)  # a helper bone: never a body joint
        else:
            core.append(word)
            number = -1
    role, matched = _role_of(core)
    if role is None and side is None and core:
        for prefix, glued_side in _GLUED_SIDES:
            if core[0].startswith(prefix) and len(core[0]) > len(prefix):
                role, matched = _role_of([core[0][len(prefix) :], *core[1:]])
                if role is not None:
                    side = glued_side
                    break
    if role == "pelvis" and side is not None:
        role = "hip"  # "LeftHip": the thigh's root, not the pelvis
    return JointName(side, role, matched, number)


def _role_of(words: Sequence[str]) -> tuple[str | None, str]:
    """Role of the longest word suffix in the tables ("Character1_LeftUpLeg" -> thigh)."""
    for start in range(len(words)):
        joined = "".join(words[start:])
        if joined in _ROLE_OF_WORD:
            return _ROLE_OF_WORD[joined], joined
    return None, ""


class RigGeometryError(UnknownSkeletonError):
    """A rig matched by its joint names does not look like a body (e.g. left and right swapped)."""


class _Hierarchy:
    """Joint names (namespaces stripped), parsed names and the parent tree of one file."""

    def __init__(self, joint_names: Sequence[str], parents: Sequence[int]) -> None:
        if len(joint_names) != len(parents):
            raise ValueError(f"{len(joint_names)} joint names but {len(parents)} parents")
        self.names = [strip_namespace(name) for name in joint_names]
        self.parents = [int(p) if 0 <= int(p) < len(parents) else -1 for p in parents]
        first: dict[str, int] = {}
        for index, name in enumerate(self.names):
            first.setdefault(name, index)
        self.first = first  # the weight matrix reads a repeated name's first joint only
        self.parsed = [parse_joint_name(name) for name in self.names]
        self.children: list[list[int]] = [[] for _ in self.names]
        for index, parent in enumerate(self.parents):
            if parent >= 0:
                self.children[parent].append(index)
        self.depth: list[int] = []
        for index, parent in enumerate(self.parents):  # parents come first in a BVH file
            below = self.depth[parent] + 1 if 0 <= parent < index else len(self.ancestors(index))
            self.depth.append(below)

    def ancestors(self, joint: int) -> list[int]:
        """Parents up to the root, nearest first (a parent cycle is cut)."""
        chain: list[int] = []
        parent = self.parents[joint]
        while parent >= 0 and len(chain) < len(self.parents):
            chain.append(parent)
            parent = self.parents[parent]
        return chain

    def descendants(self, joint: int) -> list[int]:
        found, stack = [], list(self.children[joint])
        while stack and len(found) < len(self.names):
            found.append(stack.pop())
            stack.extend(self.children[found[-1]])
        return found

    def common_ancestor(self, first: int, second: int) -> int | None:
        """The lowest joint that is `first` or one of its ancestors and also above `second`."""
        line = {second, *self.ancestors(second)}
        return next((j for j in [first, *self.ancestors(first)] if j in line), None)

    def ranked(self, joints: Sequence[int], roles: Sequence[str], side: str | None) -> list[int]:
        """Joints of `side` whose role is in `roles`: by role preference, then topmost first."""
        keyed = [
            (roles.index(self.parsed[j].role), self.depth[j], j)
            for j in joints
            if self.first[self.names[j]] == j
            and self.parsed[j].side == side
            and self.parsed[j].role in roles
        ]
        return [joint for *_, joint in sorted(keyed)]


def match_rig(joint_names: Sequence[str], parents: Sequence[int]) -> SkeletonMap:
    """The canonical joints found by name conventions and hierarchy, or one-line refusal."""
    rig = _Hierarchy(joint_names, parents)
    found: dict[str, int] = {}
    for side in ("left", "right"):
        found |= _limb(rig, side, _ARM_STEPS) | _limb(rig, side, _LEG_STEPS)
    found |= _trunk(rig, found)
    missing = [joint for joint in JOINT_NAMES if joint not in found]
    if missing:
        used = set(found.values())
        unused = [name for j, name in enumerate(rig.names) if j not in used]
        raise UnknownSkeletonError(
            "no known skeleton family fits, and joint-name conventions find no "
            f"{', '.join(missing)}; "
            f"joints left unused: {cut_message(', '.join(unused), 200) or 'none'}; "
            f"write the map by hand and pass --joint-map FILE, {joint_map_help()}"
        )
    pairs = {joint: rig.names[index] for joint, index in found.items()}
    return SkeletonMap(
        MATCHED_MAP_NAME,
        {joint: ((pairs[joint], 1.0),) for joint in JOINT_NAMES},
        family_joints=tuple(rig.names),
        inferred=True,
    )


def _limb(rig: _Hierarchy, side: str, steps: tuple) -> dict[str, int]:
    """One arm or leg: the first anchor candidate that completes the chain, else the best try."""
    (anchor, roles, _), *rest = steps
    best: dict[str, int] = {}
    everywhere = range(len(rig.names))
    for candidate in rig.ranked(everywhere, roles, side)[:MAX_ANCHORS] or [None]:
        chain = {} if candidate is None else {anchor: candidate}
        for name, step_roles, (direction, relative) in rest:
            pool: Sequence[int] = everywhere  # without its reference (a refusal will name it)
            if relative in chain:
                around = chain[relative]
                pool = rig.ancestors(around) if direction == "above" else rig.descendants(around)
            picked = rig.ranked(pool, step_roles, side)
            if picked:
                chain[name] = picked[0]
        if len(chain) == len(steps):
            best = chain
            break
        best = chain if len(chain) > len(best) else best
    return {f"{side}_{name}": joint for name, joint in best.items()}


def _trunk(rig: _Hierarchy, limbs: dict[str, int]) -> dict[str, int]:
    """Pelvis where the legs meet, chest where the arms meet, spine between, neck and head above."""
    found: dict[str, int] = {}
    if "left_hip" in limbs and "right_hip" in limbs:
        meet = rig.common_ancestor(limbs["left_hip"], limbs["right_hip"])
        if meet is not None:
            named = rig.ranked([meet, *rig.ancestors(meet)], ("pelvis",), None)
            found["pelvis"] = named[-1] if named else meet  # the nearest "Hips" at or above
    if "left_shoulder" in limbs and "right_shoulder" in limbs:
        chest = rig.common_ancestor(limbs["left_shoulder"], limbs["right_shoulder"])
        if chest is not None and rig.parsed[chest].role == "neck" and rig.parents[chest] >= 0:
            chest = rig.parents[chest]  # Biped hangs the clavicles on "Bip01 Neck"
        if chest is not None:
            found["chest"] = chest
            found |= _neck_and_head(rig, chest)
    if "pelvis" in found and "chest" in found:
        below_chest = rig.ancestors(found["chest"])
        if found["pelvis"] in below_chest:
            between = below_chest[: below_chest.index(found["pelvis"])][::-1]  # pelvis -> chest
            named = [
                j for j in between if rig.parsed[j].role == "spine" and rig.parsed[j].side is None
            ]
            if named:  # "Spine" before "LowerBack", then spine1 before spine2, then lowest
                key = [(rig.parsed[j].word != "spine", rig.parsed[j].number) for j in named]
                found["spine"] = named[key.index(min(key))]
            elif between:
                found["spine"] = between[0]
    return found


def _neck_and_head(rig: _Hierarchy, chest: int) -> dict[str, int]:
    """Head by name below the chest, else the end of the unsided trunk chain (Rigify spine.006)."""
    named, trunk_roles = rig.ranked(rig.descendants(chest), ("head",), None), ("spine", "neck")
    if named:
        head = named[0]
    else:
        chain = [chest]
        while len(chain) <= len(rig.names):
            nexts = rig.ranked(rig.children[chain[-1]], trunk_roles, None)
            if len(nexts) != 1:
                break
            chain.append(nexts[0])
        if len(chain) < 3:
            return {}
        head = chain[-1]
    path = rig.ancestors(head)
    if chest not in path:
        return {}
    between = path[: path.index(chest)][::-1]  # chest -> head, both left out
    if not between:
        return {"head": head}
    necks = rig.ranked(between, ("neck",), None)
    return {"head": head, "neck": necks[0] if necks else between[0]}


def fits_hierarchy(
    skeleton_map: SkeletonMap, joint_names: Sequence[str], parents: Sequence[int]
) -> bool:
    """Whether a family map's chest is where the arms meet and its pelvis where the legs meet.

    A Mixamo rig holds every CMU-31 name, but its arms meet at Spine2, not at CMU's Spine1.
    Maps whose joints are averages (MediaPipe) are not judged.
    """
    sources = skeleton_map.joint_sources
    if any(len(sources[joint]) != 1 for joint in JOINT_NAMES):
        return True
    rig = _Hierarchy(joint_names, parents)
    index = {joint: rig.first.get(sources[joint][0][0]) for joint in JOINT_NAMES}
    if any(value is None for value in index.values()):
        return False
    for meet, left, right in (
        ("chest", "left_shoulder", "right_shoulder"),
        ("pelvis", "left_hip", "right_hip"),
    ):
        if rig.common_ancestor(index[left], index[right]) != index[meet]:
            return False
    return True


def check_rig_geometry(positions: np.ndarray, skeleton_map: SkeletonMap | None = None) -> None:
    """Refuse canonical positions `(19, 3)` of one frame that do not look like a body.

    Left joints on the subject's left (facing taken from the feet: ankle -> toe), thigh vs shin
    and upper arm vs forearm within `MAX_CHAIN_RATIO`, left vs right limbs within
    `MAX_SIDE_RATIO`, chest, neck and head above the pelvis along the hips -> shoulders axis.
    """
    points = np.asarray(positions, dtype=np.float64)
    if points.shape != (len(JOINT_NAMES), 3) or not np.isfinite(points).all():
        raise ValueError(f"positions must be finite (19, 3), got {points.shape}")
    at = {joint: points[index] for joint, index in JOINT_INDEX.items()}
    problems = _proportion_problems(at) + _side_problems(at) + _trunk_problems(at)
    if not problems:
        return

    def label(joint: str) -> str:
        if skeleton_map is None:
            return joint
        return f"{joint} ({cut_message(skeleton_map.joint_sources[joint][0][0], 60)})"

    described = [template.format_map({j: label(j) for j in JOINT_NAMES}) for template in problems]
    raise RigGeometryError(
        f"the joints matched by name do not look like a body in the first frame: "
        f"{'; '.join(described)}; to fix the match (or to take it as it is), write the map "
        f"by hand and pass --joint-map FILE, {joint_map_help()}"
    )


def _proportion_problems(at: dict[str, np.ndarray]) -> list[str]:
    problems, totals = [], {}
    for limb in (("hip", "knee", "ankle"), ("shoulder", "elbow", "wrist")):
        for side in ("left", "right"):
            a, b, c = (f"{side}_{joint}" for joint in limb)
            upper, lower = (float(np.linalg.norm(at[q] - at[p])) for p, q in ((a, b), (b, c)))
            totals[side, limb] = upper + lower
            if min(upper, lower) * MAX_CHAIN_RATIO < max(upper, lower):
                problems.append(
                    f"{{{a}}} -> {{{b}}} is {upper:.3g} long but {{{b}}} -> {{{c}}} {lower:.3g} "
                    f"(more than {MAX_CHAIN_RATIO:g}x apart)"
                )
        left, right = totals["left", limb], totals["right", limb]
        if min(left, right) * MAX_SIDE_RATIO < max(left, right):
            problems.append(
                f"the left {'leg' if limb[0] == 'hip' else 'arm'} from {{left_{limb[0]}}} is "
                f"{left:.3g} long, the right from {{right_{limb[0]}}} {right:.3g}"
            )
    return problems


def _unit(vector: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-12 else None


def _side_problems(at: dict[str, np.ndarray]) -> list[str]:
    """Left/right by the feet's facing: the subject's left is up x forward."""
    up = _unit(at["neck"] - at["pelvis"])
    forward = sum(at[f"{side}_toe"] - at[f"{side}_ankle"] for side in ("left", "right"))
    if up is None:
        return []  # reported by the trunk check
    forward = _unit(forward - up * float(np.dot(forward, up)))
    if forward is None:
        return []  # feet along the body axis: facing unknown, left cannot be told
    left = np.cross(up, forward)
    swapped = [
        f"{{left_{joint}}} lies on the subject's right of {{right_{joint}}}"
        for joint in ("hip", "shoulder")
        if float(np.dot(at[f"left_{joint}"] - at[f"right_{joint}"], left)) < 0
    ]
    if swapped:
        swapped[-1] += " (left and right swapped? facing taken from the ankles -> toes)"
    return swapped


def _trunk_problems(at: dict[str, np.ndarray]) -> list[str]:
    hips = (at["left_hip"] + at["right_hip"]) / 2
    shoulders = (at["left_shoulder"] + at["right_shoulder"]) / 2
    axis = _unit(shoulders - hips)
    if axis is None:
        return ["the hips' and the shoulders' mid-points coincide"]
    if _unit(at["neck"] - at["pelvis"]) is None:
        return ["{neck} and {pelvis} coincide"]
    return [
        f"{{{joint}}} is not above {{pelvis}} along the hips -> shoulders axis"
        for joint in ("chest", "neck", "head")
        if float(np.dot(at[joint] - at["pelvis"], axis)) <= 0
    ]
