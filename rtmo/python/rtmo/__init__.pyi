# Type stubs of the package rtmo (the extension module rtmo._rtmo, rtmo/python/module.cc).
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str
KEYPOINT_NAMES: Tuple[str, ...]  # COCO-17, model order
SKELETON: Tuple[Tuple[int, int], ...]  # COCO-17 links (a, b)
SKELETON_RGB: Tuple[Tuple[int, int, int], ...]  # their colours, as mmpose
PRECISIONS: Tuple[str, ...]  # ("f32", "f64")

ImageArray = npt.NDArray[np.uint8]  # HxWx3 BGR, HxW grey or HxWx4 BGRA; any strides

class Error(RuntimeError):
    """Every library failure; the message names the file/field, expected and found."""

class Person(TypedDict):
    bbox: npt.NDArray[np.floating]  # [4] x1, y1, x2, y2
    score: float
    keypoints: npt.NDArray[np.floating]  # [K, 2]
    keypoint_scores: npt.NDArray[np.floating]  # [K]

class Poses:
    """People in one image, descending score. float32 arrays (float64 on an f64 model)."""

    bboxes: npt.NDArray[np.floating]  # [N, 4]
    scores: npt.NDArray[np.floating]  # [N]
    keypoints: npt.NDArray[np.floating]  # [N, K, 2]
    keypoint_scores: npt.NDArray[np.floating]  # [N, K]
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> Person: ...
    def __iter__(self) -> Iterator[Person]: ...
    def to_dict(self, file: str = "") -> dict:
        """The `rtmo --json` record: {'file', 'width', 'height', 'people': [...]}."""

class ModelInfo(TypedDict):
    path: str
    variant: str
    dataset: str
    num_keypoints: int
    input_size: Tuple[int, int]
    precision: str
    weights_version: int
    summary: str

class Model:
    def __init__(
        self,
        path: str,
        threads: Optional[int] = None,
        precision: str = "f32",
        input_size: Optional[Tuple[int, int]] = None,
    ) -> None:
        """Loads a .rtmo file, a .pth (converted once into the cache) or a model name ("rtmo-s").

        ValueError for an unknown precision; rtmo.Error for a bad file or an unknown name."""
    def __call__(self, image: ImageArray) -> Poses: ...
    def predict(
        self, image: ImageArray, score_thr: float = 0.1, nms_thr: float = 0.65
    ) -> Poses: ...
    def forward(
        self,
        image: ImageArray,
        taps: Optional[Union[str, Iterable[str]]] = None,
        score_thr: float = 0.1,
        nms_thr: float = 0.65,
    ) -> Dict[str, np.ndarray]:
        """Every module output by its --dump name; KeyError for an unknown tap."""
    def letterbox(
        self, image: ImageArray
    ) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
        """(network input [1,3,H,W] float32 BGR 0..255, affine matrix [2,3] image -> input)."""
    def tensor_names(self) -> List[str]: ...
    def _predict_timed(self, image: ImageArray) -> Tuple[Poses, float]: ...
    @property
    def info(self) -> ModelInfo: ...
    @property
    def precision(self) -> str: ...
    @property
    def threads(self) -> Optional[int]: ...
    @property
    def keypoint_names(self) -> Tuple[str, ...]: ...

def load_image(path: str) -> npt.NDArray[np.uint8]:
    """path -> HxWx3 uint8 BGR (the library's decoder, the CLI's pixels)."""

def draw(
    image: ImageArray, poses: Poses, kpt_thr: float = 0.3, boxes: bool = True, title: str = ""
) -> npt.NDArray[np.uint8]:
    """A new image with the people drawn (mmpose's style); the input is left unchanged."""

def evaluate(ann_path: str, results_path: str) -> Dict[str, float]:
    """COCO keypoint AP/AR: {'AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', ..., 'ARl'}."""

def keypoint_names(num_keypoints: int = 17) -> Tuple[str, ...]: ...
def skeleton(num_keypoints: int = 17) -> Tuple[Tuple[int, int], ...]: ...
