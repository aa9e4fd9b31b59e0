"""rtmo.cpp from Python: RTMO multi-person pose estimation, numpy in and out.

    import rtmo
    model = rtmo.Model("weights/rtmo-s.rtmo")
    poses = model(rtmo.load_image("people.jpg"))   # or any cv2.imread array (BGR)
    print(poses.bboxes, poses.keypoints)

model.forward(image) returns every module's output (the names of `rtmo --dump`) to compare
with a PyTorch model; model.letterbox(image) gives the network input to feed it.
"""

from ._rtmo import (  # noqa: F401  (the C++ extension module, rtmo/python/module.cc)
    KEYPOINT_NAMES,
    PRECISIONS,
    SKELETON,
    SKELETON_RGB,
    Error,
    Model,
    Poses,
    __version__,
    draw,
    evaluate,
    keypoint_names,
    load_image,
    skeleton,
)

__all__ = [
    "Error", "Model", "Poses", "load_image", "draw", "evaluate", "keypoint_names", "skeleton",
    "KEYPOINT_NAMES", "SKELETON", "SKELETON_RGB", "PRECISIONS", "__version__",
]
