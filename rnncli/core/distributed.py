"""Many processes with torch.distributed: which rank am I, and the few collectives the trainer needs.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them
everything here is a no-op for a single process. Rank 0 alone writes files
and shows progress; every rank runs the same steps, and decisions that must
agree (stop now, this step diverged) are taken together with one all-reduce.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from rnncli.core.errors import UsageError

Urgency = TypeVar("Urgency", bound=enum.IntEnum)


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    comm_device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> Distributed:
        """Read torchrun's variables; a plain launch is one process of rank 0."""
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError:
            raise UsageError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (set by torchrun)") from None
        return cls(rank=rank, world_size=world, local_rank=local)

    def start(self, device: torch.device) -> torch.device:
        """Join the process group (gloo on CPU, NCCL on CUDA); returns this rank's device."""
        if not self.active:
            return device
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        elif device.type != "cpu":
            raise UsageError(f"--device {device.type}: training with several processes needs cpu or cuda")
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        self.comm_device = device
        return device

    def stop(self) -> None:
        if self.active:
            import torch.distributed as dist

            if dist.is_initialized():
                # Everyone reaches this point before anyone tears the group down: a rank that left
                # early could close the connections under a peer still finishing (gloo aborts it).
                try:
                    dist.barrier()
                finally:
                    dist.destroy_process_group()

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """DistributedDataParallel around ``model`` when there are several processes."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank."""
        return self.most(1 if flag else 0) > 0

    def most_urgent(self, flag: Urgency) -> Urgency:
        """The most urgent of the ranks' flags (an ``IntEnum`` ordered by urgency): a decision all share."""
        return type(flag)(self.most(int(flag)))

    def most(self, value: int) -> int:
        """The largest of a small integer over the ranks (a decision every rank shares)."""
        if not self.active:
            return value
        import torch.distributed as dist

        tensor = torch.tensor([value], dtype=torch.int32, device=self.comm_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return int(tensor.item())

    def mean(self, value: float) -> float:
        """The mean of a number over the ranks (the train loss of the whole batch)."""
        if not self.active:
            return value
        import torch.distributed as dist

        tensor = torch.tensor([value], dtype=torch.float64, device=self.comm_device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's copy of a same-shaped tensor, in rank order, on the CPU."""
        if not self.active:
            return [tensor.detach().cpu()]
        import torch.distributed as dist

        local = tensor.detach().to(self.comm_device).contiguous()
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(parts, local)
        return [p.cpu() for p in parts]
