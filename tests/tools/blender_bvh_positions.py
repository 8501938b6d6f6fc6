"""Import a BVH with Blender's own BVH importer and dump every joint's world position per frame.

Run with a Python that has the ``bpy`` wheel (Blender as a module, e.g. ``pip install bpy==5.0.1``
in a separate venv: bpy pins numpy<2, so it cannot live in the project venv)::

    /tmp/bpyvenv/bin/python tests/tools/blender_bvh_positions.py IN.bvh OUT.npz

Writes OUT.npz with:
    names      (B,)       bone names in the order Blender's importer created them (file order)
    positions  (F, B, 3)  posed bone heads, in the BVH file's own axes and units
    fps        ()         scene frame rate set from the file's "Frame Time"

The importer rotates the armature from the BVH convention (Y up, -Z forward) into Blender's
(Z up, -Y forward) and bakes that rotation into the bones; we apply the inverse of the same
``axis_conversion`` matrix so the output is directly comparable to forward kinematics done on the
file itself. BVH frame i is Blender frame ``frame_start + i`` (the importer maps them 1:1 with
``update_scene_fps=True, use_fps_scale=False``).
"""

import sys

import bpy
import numpy as np
from bpy_extras.io_utils import axis_conversion

AXIS_FORWARD, AXIS_UP = "-Z", "Y"  # the BVH convention; also the operator's defaults
FRAME_START = 1


def import_bvh(path):
    """Empty scene, run the stock importer, return the new armature object."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.import_anim.bvh(
        filepath=path,
        target="ARMATURE",
        global_scale=1.0,
        frame_start=FRAME_START,
        axis_forward=AXIS_FORWARD,
        axis_up=AXIS_UP,
        rotate_mode="NATIVE",
        update_scene_fps=True,
        use_fps_scale=False,
    )
    if result != {"FINISHED"}:
        raise RuntimeError(f"Blender BVH import of {path} returned {result}")
    armatures = [ob for ob in bpy.context.scene.objects if ob.type == "ARMATURE"]
    if len(armatures) != 1:
        raise RuntimeError(f"expected one armature after import, got {len(armatures)}")
    return armatures[0]


def bone_heads(arm):
    """Posed bone heads for every frame of the armature's action, shape (F, B, 3), Blender axes."""
    scene = bpy.context.scene
    first, last = (round(f) for f in arm.animation_data.action.frame_range)
    names = [pb.name for pb in arm.pose.bones]
    out = np.empty((last - first + 1, len(names), 3))
    for i, frame in enumerate(range(first, last + 1)):
        scene.frame_set(frame)
        ev = arm.evaluated_get(bpy.context.evaluated_depsgraph_get())
        world = ev.matrix_world
        out[i] = [tuple(world @ pb.head) for pb in ev.pose.bones]
    return names, out


def main(bvh_path, npz_path):
    arm = import_bvh(bvh_path)
    names, heads = bone_heads(arm)
    # The importer set matrix_world to this (BVH -> Blender) and then applied it; undo it.
    to_bvh = np.array(axis_conversion(from_forward=AXIS_FORWARD, from_up=AXIS_UP).inverted())
    positions = heads @ to_bvh.T
    render = bpy.context.scene.render
    np.savez(
        npz_path,
        names=np.array(names),
        positions=positions,
        fps=np.float64(render.fps / render.fps_base),
    )
    print(f"{bvh_path}: {positions.shape[0]} frames, {len(names)} bones -> {npz_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} IN.bvh OUT.npz")
    main(sys.argv[1], sys.argv[2])
