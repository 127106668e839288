"""One model trained by several processes (torch DistributedDataParallel).

When ``fit`` runs in a ``torch.distributed`` process group of two or more
processes (started by ``torchrun``, the group set up with
``torch.distributed.init_process_group``), every process holds the whole
training set and walks the same shuffled minibatches; each computes the
gradient on its share of every batch and DDP averages the gradients. Losses
are scaled so that the step equals the single-process step on the whole
batch, and the recorded losses and scores are averaged over the processes, so
early stopping stops every process at the same epoch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from sknn._core._data import Batch


def process_group() -> tuple[int, int] | None:
    """``(rank, world_size)`` inside a process group of 2+ processes, else None."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    world_size = dist.get_world_size()
    return (dist.get_rank(), world_size) if world_size > 1 else None


def shared_seed(seed: int) -> int:
    """Process 0's ``seed`` on every process of the group (``seed`` outside one).

    Every process must shuffle, split and initialize alike, also when
    ``random_state=None`` draws a different seed in each.
    """
    if process_group() is None:
        return seed
    # NCCL moves only CUDA tensors: those of the process's current GPU
    # (torch.cuda.set_device(local_rank), as every DDP script does).
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([seed], dtype=torch.int64, device=device)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


class DataParallelTraining:
    """The DDP wrapper, batch shares and averaging of one training call.

    Parameters
    ----------
    module : torch.nn.Module
        The net's module, already on ``device``; it stays unwrapped for
        validation, prediction and pickling, only training steps go through
        the wrapper.
    device : torch.device
    rank, world_size : int
    """

    def __init__(self, module: torch.nn.Module, device: torch.device, rank: int,
                 world_size: int):
        self.device = device
        self.rank = rank
        self.world_size = world_size
        device_ids = [device] if device.type == "cuda" else None
        self.module = DistributedDataParallel(module, device_ids=device_ids)

    def share(self, batch: Batch) -> tuple[Batch, float]:
        """This process's rows of a batch, and the factor its mean loss is scaled by.

        Rows ``rank, rank + world_size, ...``: the shares differ by at most one
        row. The factor ``share_rows * world_size / batch_rows`` makes DDP's
        average of the gradients the gradient of the mean loss over the batch.
        """
        batch_rows = len(batch[0])
        share = tuple(None if part is None else part[self.rank::self.world_size]
                      for part in batch)
        return share, len(share[0]) * self.world_size / batch_rows

    def mean(self, value: float) -> float:
        """Average of ``value`` over the processes."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true in any process."""
        tensor = torch.tensor([int(flag)], dtype=torch.int64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())
