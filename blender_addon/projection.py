"""Project world-space points through a camera into pixels (numpy; no bpy).

The matrices come from Blender per frame (cameras can be animated):
``view = camera.matrix_world.inverted()`` and
``proj = camera.calc_matrix_camera(depsgraph, x=res_x, y=res_y, scale_x=aspect_x, scale_y=aspect_y)``,
which already account for perspective/orthographic, lens, sensor fit and shift. The result uses
the motion format's image convention: pixels, origin top-left, x right, y down.
"""

from __future__ import annotations

import numpy as np

#: Confidence of a joint that is in front of the camera but outside the frame.
OUT_OF_FRAME_CONFIDENCE = 0.25


def project(points: np.ndarray, view: np.ndarray, proj: np.ndarray, width: float, height: float):
    """Project points.

    Args:
        points: (T, N, 3) world coordinates.
        view: (T, 4, 4) world -> camera matrices; proj: (T, 4, 4) camera -> clip matrices.
        width, height: output frame size in pixels (render resolution x percentage).
    Returns:
        (pixels (T, N, 2) float32, confidence (T, N) float32): confidence 1 inside the frame, 0.25
        outside it, 0 behind the camera (those pixels are clamped to stay finite).
    """
    points = np.asarray(points, dtype=np.float64)
    homogeneous = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)
    camera = np.einsum("tij,tnj->tni", np.asarray(view, np.float64), homogeneous)
    clip = np.einsum("tij,tnj->tni", np.asarray(proj, np.float64), camera)
    in_front = camera[..., 2] < 0.0  # Blender cameras look down their local -Z
    w = np.where(np.abs(clip[..., 3]) > 1e-9, clip[..., 3], 1e-9)
    ndc = clip[..., :2] / w[..., None]
    ndc = np.clip(np.where(in_front[..., None], ndc, 0.0), -1e4, 1e4)
    pixels = np.empty(points.shape[:-1] + (2,), dtype=np.float32)
    pixels[..., 0] = (ndc[..., 0] + 1.0) * 0.5 * width
    pixels[..., 1] = (1.0 - ndc[..., 1]) * 0.5 * height
    inside = in_front & (np.abs(ndc[..., 0]) <= 1.0) & (np.abs(ndc[..., 1]) <= 1.0)
    confidence = np.where(inside, 1.0, np.where(in_front, OUT_OF_FRAME_CONFIDENCE, 0.0)).astype(np.float32)
    return pixels, confidence


def front_view(bounds_min: np.ndarray, bounds_max: np.ndarray, aspect: float = 16 / 9, margin: float = 1.2):
    """A default orthographic front view (looking along +Y, Z up) framing an axis-aligned box.

    Returns (view 4x4, proj 4x4) for a camera used when the scene has none.
    """
    lo, hi = np.asarray(bounds_min, np.float64), np.asarray(bounds_max, np.float64)
    centre = (lo + hi) / 2
    half_h = max((hi[2] - lo[2]) / 2, (hi[0] - lo[0]) / 2 / aspect, 1e-3) * margin
    half_w = half_h * aspect
    depth = max(hi[1] - lo[1], 1.0)
    # Camera at -Y looking toward +Y: camera X = world X, camera Y = world Z, camera Z = -world Y.
    rotation = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    eye = np.array([centre[0], lo[1] - 10 * depth, centre[2]])
    view = np.eye(4)
    view[:3, :3] = rotation
    view[:3, 3] = -rotation @ eye
    near, far = 0.1, 30 * depth + 100
    proj = np.array([[1 / half_w, 0, 0, 0], [0, 1 / half_h, 0, 0],
                     [0, 0, -2 / (far - near), -(far + near) / (far - near)], [0, 0, 0, 1.0]])
    return view, proj
