"""torchrun DDP on one or many GPUs (nccl) or CPU processes (gloo, how it is tested); also plain single process."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup(force_cpu: bool = False) -> Dist:
    """Read torchrun's WORLD_SIZE/RANK/LOCAL_RANK; nccl on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and not force_cpu
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not tdist.is_initialized():
        tdist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world,
                                 **({"device_id": device} if cuda else {}))
    if not cuda and world > 1:  # processes share the cores instead of each taking all of them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    return Dist(rank, world, local_rank, device)


def barrier(d: Dist) -> None:
    if d.enabled:
        tdist.barrier()


def broadcast(d: Dist, obj):
    """rank 0's value of obj on every rank."""
    if not d.enabled:
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def gather(d: Dist, obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] on every rank."""
    if not d.enabled:
        return [obj]
    out = [None] * d.world
    tdist.all_gather_object(out, obj)
    return out


def cleanup(d: Dist) -> None:
    if d.enabled and tdist.is_initialized():
        tdist.destroy_process_group()
