"""Fine-tuning EfficientNet-Lite on labelled tiles: what each TorchDistributor process runs.

``train_network`` is the function ``pyspark.ml.torch.distributor.TorchDistributor`` ships to its
processes (local processes on the driver, or barrier tasks on executors): each one reads its
share of the tiles from storage (URLs, never driver paths), trains a copy of the network with
DistributedDataParallel when there are several, and rank 0 returns the best epoch's weights as
numpy plus every epoch's losses and accuracies. Imports torch only inside functions, so the
package imports without the ``torch`` extra.

Augmentation suits aerial tiles, which have no "up" and vary in light and scale: a random one of
the 8 dihedral flips/rotations, colour jitter and a random resized crop. Validation tiles are
decoded exactly as featurize decodes them (``images.decode_tile`` at the network's size).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from aerial_landuse.core.inference import dihedral_view
from aerial_landuse.core.networks.onnx_graphs import lite_torch_model
from aerial_landuse.core.networks.registry import NETWORKS
from aerial_landuse.core.tiles.images import decode_tile
from aerial_landuse.core.tiles.source import TileSource

if TYPE_CHECKING:
    import torch

LOAD_MARGIN = 1.15  # train tiles are decoded this much larger than the input, for the crops


@dataclass(frozen=True)
class FinetuneConfig:
    """How to fine-tune: the ``finetune.*`` parameters (their values live in conf/base only)."""

    network: str
    max_epochs: int
    patience: int  # epochs without a better validation accuracy before stopping
    batch_size: int
    learning_rate: float  # the new classification head's
    backbone_lr_factor: float  # the pretrained layers learn this much slower
    weight_decay: float
    label_smoothing: float
    trainable_blocks: int  # the last N MBConv blocks (+ head) learn; -1: every layer
    crop_scale: tuple[float, float]
    colour_jitter: float  # brightness, contrast, saturation (hue: a tenth of it)
    seed: int
    use_gpu: bool

    @classmethod
    def from_params(cls, params: dict[str, Any], network: str, use_gpu: bool) -> FinetuneConfig:
        """The ``finetune`` parameters (conf/base's, or a run's) as the training settings."""
        keys = set(cls.__dataclass_fields__) - {"network", "use_gpu", "crop_scale"}
        values = {k: params[k] for k in keys}
        return cls(
            network=network, use_gpu=use_gpu, crop_scale=tuple(params["crop_scale"]), **values
        )

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LabelledPaths:
    """Tile paths (storage URLs) and their class indices."""

    paths: list[str]
    classes: list[int]

    def shard(self, rank: int, world: int) -> LabelledPaths:
        return LabelledPaths(self.paths[rank::world], self.classes[rank::world])


def train_network(
    config: FinetuneConfig,
    labels: list[str],
    train: LabelledPaths,
    validation: LabelledPaths,
    storage: TileSource,
) -> dict[str, Any] | None:
    """Fine-tune ``config.network`` to ``labels``; rank 0 returns ``{"state": numpy weights of the
    best epoch, "history": [per-epoch metrics], "best_epoch", "stopped_early", "seconds"}``."""
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    device = torch.device("cuda" if config.use_gpu and torch.cuda.is_available() else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(config.seed)
    try:
        return _train(config, labels, train, validation, storage, device, rank, world)
    finally:
        if world > 1:
            dist.destroy_process_group()


def _train(
    config: FinetuneConfig,
    labels: list[str],
    train: LabelledPaths,
    validation: LabelledPaths,
    storage: TileSource,
    device: torch.device,
    rank: int,
    world: int,
) -> dict[str, Any] | None:
    import torch

    size = NETWORKS[config.network].image_size
    started = time.perf_counter()
    mine, my_validation = train.shard(rank, world), validation.shard(rank, world)
    train_pixels = read_pixels(storage, mine.paths, round(size * LOAD_MARGIN))
    validation_pixels = read_pixels(storage, my_validation.paths, size)
    model = network_for(config, len(labels)).to(device)
    trained = _distributed(model, device, world)
    optimizer = _optimizer(model, config)
    steps = config.max_epochs * math.ceil(len(mine.paths) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, [g["lr"] for g in optimizer.param_groups], total_steps=max(steps, 1)
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    history, best, best_state, waited = [], (-1.0, math.inf), None, 0
    for epoch in range(1, config.max_epochs + 1):
        tick = time.perf_counter()
        fit = _fit_epoch(
            trained,
            model,
            config,
            train_pixels,
            mine.classes,
            optimizer,
            schedule,
            loss_fn,
            device,
            epoch,
        )
        check = _evaluate(model, validation_pixels, my_validation.classes, loss_fn, device, config)
        row = {
            "epoch": epoch,
            **_summed(fit, "train", device, world),
            **_summed(check, "validation", device, world),
            "seconds": time.perf_counter() - tick,
        }
        history.append(row)
        score = (row["validation_accuracy"], -row["validation_loss"])
        improved = score > (best[0], -best[1])
        if improved:
            best, waited = (row["validation_accuracy"], row["validation_loss"]), 0
            best_state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
        else:
            waited += 1
        if rank == 0:
            _report(row, config.max_epochs, improved)
        if waited >= config.patience:
            break
    if rank != 0:
        return None
    best_epoch = max(history, key=lambda r: (r["validation_accuracy"], -r["validation_loss"]))
    return {
        "state": best_state,
        "history": history,
        "best_epoch": best_epoch["epoch"],
        "stopped_early": len(history) < config.max_epochs,
        "seconds": time.perf_counter() - started,
        "processes": world,
        "device": device.type,
    }


def network_for(config: FinetuneConfig, classes: int) -> torch.nn.Module:
    """The ImageNet network with a new ``classes``-way head; only its last
    ``trainable_blocks`` blocks (and head) learn unless that is -1."""
    import torch

    model = lite_torch_model(config.network, pretrained=True)
    model._fc = torch.nn.Linear(model._fc.in_features, classes)
    if config.trainable_blocks >= 0:
        first_trained = len(model._blocks) - config.trainable_blocks
        for name, parameter in model.named_parameters():
            parameter.requires_grad = _is_trained(name, first_trained)
    return model


def _is_trained(name: str, first_trained: int) -> bool:
    if name.startswith("_blocks."):
        return int(name.split(".")[1]) >= first_trained
    return not name.startswith(("_conv_stem", "_bn0"))


def _frozen_batch_norms_stay_frozen(model: torch.nn.Module) -> None:
    """Batch norms of frozen layers keep their ImageNet statistics (eval mode) while training."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d) and not module.weight.requires_grad:
            module.eval()


def _optimizer(model: torch.nn.Module, config: FinetuneConfig) -> torch.optim.Optimizer:
    import torch

    head = [p for n, p in model.named_parameters() if n.startswith("_fc") and p.requires_grad]
    body = [p for n, p in model.named_parameters() if not n.startswith("_fc") and p.requires_grad]
    groups = [{"params": head, "lr": config.learning_rate}]
    if body:
        groups.append({"params": body, "lr": config.learning_rate * config.backbone_lr_factor})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def _distributed(model: torch.nn.Module, device: torch.device, world: int) -> torch.nn.Module:
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index or 0] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def read_pixels(storage: TileSource, paths: list[str], size: int) -> np.ndarray:
    """The tiles as uint8 NHWC at ``size`` (read once; every epoch reuses them)."""
    if not paths:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([decode_tile(storage.read_bytes(path), size) for path in paths])


def augment(pixels: np.ndarray, size: int, config: FinetuneConfig, generator: Any) -> Any:
    """A batch of uint8 NHWC tiles as augmented float NCHW input: one of the 8 dihedral views
    (the ones TTA averages over), random resized crop, colour jitter, each tile its own draw."""
    import torch
    from torchvision.transforms import v2

    jitter = config.colour_jitter
    transform = v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=config.crop_scale, antialias=True),
            v2.ColorJitter(jitter, jitter, jitter, jitter / 10),
        ]
    )
    out = []
    for i in range(len(pixels)):
        view = int(torch.randint(8, (1,), generator=generator))
        tile = dihedral_view(pixels[i : i + 1], view)[0]
        out.append(transform(torch.from_numpy(tile).permute(2, 0, 1)))
    return normalised(torch.stack(out), config.network)


def normalised(images: Any, network: str) -> Any:
    """uint8 NCHW to the network's float input (its own mean and std)."""
    import torch

    spec = NETWORKS[network]
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (images.float() - mean) / std


def _fit_epoch(
    trained: torch.nn.Module,
    model: torch.nn.Module,
    config: FinetuneConfig,
    pixels: np.ndarray,
    classes: list[int],
    optimizer: Any,
    schedule: Any,
    loss_fn: Any,
    device: torch.device,
    epoch: int,
) -> tuple[float, int, int]:
    """One pass over this process's tiles, shuffled; (summed loss, correct, tiles)."""
    import torch

    trained.train()
    _frozen_batch_norms_stay_frozen(model)
    generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
    torch.manual_seed(config.seed * 1000 + epoch)
    order = torch.randperm(len(pixels), generator=generator).numpy()
    targets = torch.as_tensor(classes)
    size = NETWORKS[config.network].image_size
    total, correct, seen = 0.0, 0, 0
    for start in range(0, len(order), config.batch_size):
        batch = order[start : start + config.batch_size]
        x = augment(pixels[batch], size, config, generator).to(device)
        y = targets[batch].to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = trained(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(batch)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(batch)
    return total, correct, seen


def _evaluate(
    model: torch.nn.Module,
    pixels: np.ndarray,
    classes: list[int],
    loss_fn: Any,
    device: torch.device,
    config: FinetuneConfig,
) -> tuple[float, int, int]:
    """(summed loss, correct, tiles) on this process's validation tiles, unaugmented."""
    import torch

    model.eval()
    total, correct = 0.0, 0
    targets = torch.as_tensor(classes)
    with torch.no_grad():
        for start in range(0, len(pixels), config.batch_size):
            x = normalised(
                torch.from_numpy(pixels[start : start + config.batch_size]).permute(0, 3, 1, 2),
                config.network,
            ).to(device)
            y = targets[start : start + config.batch_size].to(device)
            logits = model(x)
            total += float(loss_fn(logits, y)) * len(y)
            correct += int((logits.argmax(1) == y).sum())
    return total, correct, len(pixels)


def _summed(
    counts: tuple[float, int, int], prefix: str, device: torch.device, world: int
) -> dict[str, float]:
    """Loss and accuracy over every process's share (all-reduced when there are several)."""
    import torch

    values = torch.tensor(counts, dtype=torch.float64, device=device)
    if world > 1:
        import torch.distributed as dist

        dist.all_reduce(values)
    loss, correct, seen = values.tolist()
    seen = max(seen, 1.0)
    return {f"{prefix}_loss": loss / seen, f"{prefix}_accuracy": correct / seen}


def _report(row: dict[str, float], epochs: int, improved: bool) -> None:
    """One progress line per epoch (TorchDistributor streams the processes' output)."""
    print(  # noqa: T201 (the processes' stdout is what TorchDistributor shows the driver)
        f"finetune epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.3f} "
        f"acc {row['train_accuracy']:.3f} | validation loss {row['validation_loss']:.3f} "
        f"acc {row['validation_accuracy']:.3f} | {row['seconds']:.0f} s"
        + ("  (best so far)" if improved else ""),
        flush=True,
    )
