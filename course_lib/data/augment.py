"""Data augmentation: the SimCLR pipeline with ``torchvision.transforms.v2``, and whole batches on the device.

A v2 transform draws its random numbers once per call, so on a batch tensor (B, C, H, W) every image gets
the *same* crop, flip or rotation. :func:`random_affine` instead gives each image of a batch its own
rotation, shift, zoom and flip in one ``grid_sample`` call, on whatever device the batch lives on, and
:class:`BatchAugmentation` applies it to each training batch inside ``Trainer.fit``.

>>> views = augmented_views(torch.zeros(3, 64, 64, dtype=torch.uint8), simclr_transform(32), num_views=4, seed=0)
>>> views.shape
torch.Size([4, 3, 32, 32])
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..training.callbacks import Callback
from ..validate import check_int, check_number

MAX_STRENGTH = 2.5  # hue jitter is 0.2 * s and torchvision allows at most 0.5
PADDING_MODES = ("zeros", "border", "reflection")
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # R, G, B: torchvision's (ITU-R 601) luma


def blur_kernel_size(size: int) -> int:
    """An odd Gaussian-blur kernel of about 10% of the image side, as in SimCLR (224 -> 23, 96 -> 9)."""
    check_int("size", size, 1)
    kernel = int(0.1 * size)
    return kernel if kernel % 2 == 1 else kernel + 1


def simclr_transform(size: int = 224, s: float = 1.0, blur: bool = True):
    """SimCLR's augmentation (Chen et al., 2020) as a ``transforms.v2.Compose``; ``s`` is the colour strength.

    Random crop of 8-100% of the area with aspect 3/4-4/3, resized to ``size``; horizontal flip (p=0.5);
    colour jitter (brightness, contrast, saturation 0.8s, hue 0.2s) with p=0.8; grayscale with p=0.2;
    Gaussian blur with an odd kernel of ~10% of ``size`` and sigma in [0.1, 2] with p=0.5.
    Works on uint8 or float images (C, H, W) and on batches, where one draw serves the whole batch.
    """
    from torchvision.transforms import v2

    check_int("size", size, 8)
    check_number("s", s, 0, MAX_STRENGTH)  # hue jitter 0.2 * s must stay <= 0.5
    steps = [
        v2.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),
        v2.RandomHorizontalFlip(p=0.5),
        v2.RandomApply([v2.ColorJitter(brightness=0.8 * s, contrast=0.8 * s, saturation=0.8 * s, hue=0.2 * s)], p=0.8),
        v2.RandomGrayscale(p=0.2),
    ]
    if blur:
        steps.append(v2.RandomApply([v2.GaussianBlur(blur_kernel_size(size), sigma=(0.1, 2.0))], p=0.5))
    return v2.Compose(steps)


def augmented_views(image: torch.Tensor, transform: Callable, num_views: int = 8, seed: int = 0) -> torch.Tensor:
    """``num_views`` random views of one image (C, H, W) stacked as (num_views, C, h, w); same seed, same views.

    The global random state is saved and restored around the draws, so calling this changes nothing else.
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        raise ValueError(f"image must be a tensor of shape (C, H, W), got {getattr(image, 'shape', type(image))}")
    check_int("num_views", num_views, 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.stack([transform(image) for _ in range(num_views)])


def affine(
    images: torch.Tensor,
    angles: torch.Tensor,
    shifts: torch.Tensor,
    scales: torch.Tensor,
    flips: torch.Tensor,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Move each image of a batch (B, C, H, W) by its own parameters, bilinear.

    ``angles`` (B,) degrees counter-clockwise (as ``v2.functional.rotate``); ``shifts`` (B, 2) pixels (right,
    down); ``scales`` (B,) zoom factors; ``flips`` (B,) bool, mirror left-right first. ``padding_mode`` fills
    what comes from outside the image: "zeros" (black, right for digits on a blank page), "border" or
    "reflection" (better for photos, whose edges are not black).
    """
    if images.dim() != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    B, _, H, W = images.shape
    device, dtype = images.device, images.dtype if images.is_floating_point() else torch.float32
    angles, scales = angles.to(device, dtype) * math.pi / 180, scales.to(device, dtype)
    shifts, sign = shifts.to(device, dtype), 1 - 2 * flips.to(device, dtype)  # sign: -1 flips x
    cos, sin = torch.cos(angles), torch.sin(angles)
    # grid_sample asks, for every output pixel, where to read in the input: the inverse of the motion.
    # In pixel units (y down) the motion is x_out = scale * R(angle) @ flip(x_in) + shift, so
    # x_in = flip(R(-angle) @ (x_out - shift) / scale); then rescale x by W/2 and y by H/2 to [-1, 1] units.
    a, b = sign * cos / scales, sign * -sin / scales * H / W
    c, d = sin / scales * W / H, cos / scales
    tx, ty = 2 * shifts[:, 0] / W, 2 * shifts[:, 1] / H
    theta = torch.stack(
        [torch.stack([a, b, -(a * tx + b * ty)], 1), torch.stack([c, d, -(c * tx + d * ty)], 1)], 1
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, [B, 1, H, W], align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(images.to(dtype), grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def random_affine(
    images: torch.Tensor,
    degrees: float = 15.0,
    translate: float = 0.1,
    scale=(0.9, 1.1),
    flip: bool = False,
    generator: torch.Generator | None = None,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """A different random rotation, shift, zoom (and flip, if asked) for every image of a batch (B, C, H, W).

    ``degrees``: angles uniform in [-degrees, degrees]; ``translate``: shifts up to this fraction of the side;
    ``scale``: zoom range; ``padding_mode`` as in :func:`affine`. The few numbers are drawn on the CPU with
    ``generator`` (repeatable), the pixels are moved on the batch's device.
    """
    if not (isinstance(degrees, (int, float)) and 0 <= degrees <= 180):
        raise ValueError(f"degrees must be in [0, 180], got {degrees!r}")
    if not (isinstance(translate, (int, float)) and 0 <= translate < 1):
        raise ValueError(f"translate must be in [0, 1), got {translate!r}")
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale!r}")
    B, _, H, W = images.shape
    uniform = torch.rand(B, 5, generator=generator)  # (B, 5): angle, shift x, shift y, zoom, flip
    angles = (2 * uniform[:, 0] - 1) * degrees
    shifts = (2 * uniform[:, 1:3] - 1) * translate * torch.tensor([W, H])
    scales = scale[0] + uniform[:, 3] * (scale[1] - scale[0])
    flips = (uniform[:, 4] < 0.5) & flip
    return affine(images, angles, shifts, scales, flips, padding_mode)


def _gray(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    r, g, b = images.unbind(1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def _shift_hue(images: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Turn each image's hue by its own ``shifts`` (B,) of the colour circle: RGB -> HSV, h + shift, -> RGB."""
    r, g, b = images.unbind(1)  # (B, H, W) each
    v, _ = images.max(1)
    delta = v - images.min(1)[0]
    grey = delta == 0
    safe = torch.where(grey, torch.ones_like(delta), delta)
    h = torch.where(v == r, (g - b) / safe, torch.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = (torch.where(grey, torch.zeros_like(h), h) / 6 + shifts.view(-1, 1, 1)) % 1
    s = delta / torch.where(v == 0, torch.ones_like(v), v)
    sector = torch.floor(h * 6)
    f = h * 6 - sector
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    options = torch.stack(
        [torch.stack(rgb, 1) for rgb in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))], 1
    )
    index = (sector.long() % 6)[:, None, None].expand(-1, 1, 3, -1, -1)  # (B, 1, 3, H, W): which of the 6 sectors
    return options.gather(1, index).squeeze(1)


def colour(
    images: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor, saturation: torch.Tensor, hue: torch.Tensor
) -> torch.Tensor:
    """Recolour each image of a float RGB batch (B, 3, H, W) in [0, 1] by its own factors, each of shape (B,).

    The steps of ``v2.functional.adjust_brightness``, ``_contrast``, ``_saturation`` and ``_hue``, in that order.
    """
    if images.dim() != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise ValueError(f"images must be a float RGB batch (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    factor = lambda values: values.to(images.device, images.dtype).view(-1, 1, 1, 1)  # noqa: E731  (B,) -> (B, 1, 1, 1)
    out = (images * factor(brightness)).clamp(0, 1)
    c = factor(contrast)
    out = (c * out + (1 - c) * _gray(out).mean(dim=(1, 2, 3), keepdim=True)).clamp(0, 1)
    s = factor(saturation)
    out = (s * out + (1 - s) * _gray(out)).clamp(0, 1)
    return _shift_hue(out, hue.to(images.device, images.dtype))


def random_colour(
    images: torch.Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p_jitter: float = 0.8,
    p_grayscale: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SimCLR's colour distortion with its own draw for every image of a batch (defaults: its strength s = 0.5).

    As ``RandomApply([ColorJitter(brightness, contrast, saturation, hue)], p_jitter)`` then
    ``RandomGrayscale(p_grayscale)`` called once per image, except that the four jitter steps run in a fixed
    order (torchvision shuffles them at every call): one call for the whole batch instead of one per image.
    """
    for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if not (isinstance(value, (int, float)) and value >= 0):
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if not (isinstance(hue, (int, float)) and 0 <= hue <= 0.5):
        raise ValueError(f"hue must be in [0, 0.5] (a share of the colour circle), got {hue!r}")
    uniform = torch.rand(len(images), 6, generator=generator)  # (B, 6): four factors, two coins
    spread = lambda column, amount: max(0.0, 1 - amount) + uniform[:, column] * (1 + amount - max(0.0, 1 - amount))  # noqa: E731
    jittered = colour(
        images, spread(0, brightness), spread(1, contrast), spread(2, saturation), (2 * uniform[:, 3] - 1) * hue
    )
    coin = lambda column, p: (uniform[:, column] < p).to(images.device).view(-1, 1, 1, 1)  # noqa: E731
    out = torch.where(coin(4, p_jitter), jittered, images)
    return torch.where(coin(5, p_grayscale), _gray(out).expand_as(out), out)


class BatchAugmentation(Callback):
    """Augment every training batch on its device before the forward pass; validation batches stay untouched.

    ``augment(images, generator=...)`` gets the batch inputs and this callback's own generator, seeded by
    ``seed``, whose state a checkpoint keeps. ``Trainer(..., callbacks=[BatchAugmentation(random_affine)])``.
    """

    def __init__(self, augment: Callable = random_affine, seed: int = 0, **options):
        if not callable(augment):
            raise ValueError(f"augment must be callable, got {augment!r}")
        self.augment, self.options = augment, options
        self.generator = torch.Generator().manual_seed(seed)

    def on_batch_start(self, trainer) -> None:
        inputs, targets = trainer.batch
        inputs = inputs.to(trainer.device, non_blocking=True)
        trainer.batch = (self.augment(inputs, generator=self.generator, **self.options), targets)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class AugmentedDataset(torch.utils.data.Dataset):
    """Tensors ``X`` (N, C, H, W) and ``y`` (N,) with ``transform`` applied to one sample at a time.

    The classic way (a transform inside the dataset, a ``DataLoader`` that collates): each sample gets its
    own random draw, but the work is done on the CPU, one small image after another.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, transform: Callable | None = None):
        if len(X) != len(y):
            raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
        self.X, self.y, self.transform = X, y, transform

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int):
        image = self.X[index]
        return (self.transform(image) if self.transform is not None else image), self.y[index]
