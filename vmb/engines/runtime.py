"""Connecting to Ray: a local runtime sized to this machine, or an existing cluster.

* ``address=None`` — a local Ray runtime (``ray.init(num_cpus=...)``) started for this call and
  shut down after it; when the caller (a test session, a notebook) has already started Ray in
  this process, that runtime is used and left running.
* ``address="auto"`` — the cluster started on this machine with ``ray start --head``;
  ``"ray://host:10001"`` — a remote cluster through Ray Client; ``"host:6379"`` — a cluster's
  GCS address.

Ray's usage-stats reporting is switched off and no dashboard is started. A local runtime listens
on 127.0.0.1 only (:func:`start_local`): Ray on Linux would otherwise bind its GCS, raylet and
worker ports to the machine's network address, where anyone on the network could reach them. Ray is an optional
extra (``pip install 'vmb[ray]'``): without it every function here raises one
:class:`~vmb.errors.UsageError` saying how to install it.

Sizing: on a small machine (the 2 cores of a laptop VM), an actor that takes a whole CPU stops
the read/decode tasks that feed it from being scheduled, and a Ray Data pipeline stalls.
:func:`actor_shape` therefore gives each CPU actor a fraction of a CPU (half a core below 8
cores) and leaves at least one CPU for the tasks; with GPUs in the cluster each encoder actor
takes one GPU instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vmb.errors import UsageError

logger = logging.getLogger(__name__)

INSTALL_HINT = "the ray engine needs Ray: pip install 'vmb[ray]' (ray[data])"


def import_ray():
    """``ray`` (and ``ray.data``), or a :class:`UsageError` naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


def check_address(address: str | None) -> str | None:
    """``None``, ``auto``, ``ray://HOST[:PORT]`` or ``HOST:PORT``; anything else is a
    :class:`UsageError` naming the value."""
    if address is None:
        return None
    value = address.strip()
    if value == "auto" or value.startswith("ray://"):
        return value
    host, sep, port = value.rpartition(":")
    if sep and host and port.isdigit():
        return value
    raise UsageError(f"--address {address!r}: use auto, ray://HOST:PORT or HOST:PORT")


@contextmanager
def ray_runtime(address: str | None = None, num_cpus: int | None = None) -> Iterator[object]:
    """Ray, connected for the block: see the module docstring.

    Args:
        address: ``None`` (a local runtime), ``auto``, ``ray://...`` or ``HOST:PORT``.
        num_cpus: CPUs of a local runtime (default: this machine's).
    """
    address = check_address(address)
    ray = import_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with _keep_sigint():
        if ray.is_initialized():
            yield ray
            return
        yield from _connected(ray, address, num_cpus)


@contextmanager
def _keep_sigint() -> Iterator[None]:
    """Ctrl-C keeps working after a Ray job: the SIGINT handler of this process is put back as
    it was (a Ray job in the process was seen to leave SIGINT ignored)."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        yield
    finally:
        if main and previous is not None and signal.getsignal(signal.SIGINT) is not previous:
            signal.signal(signal.SIGINT, previous)


def _connected(ray, address: str | None, num_cpus: int | None):
    """Start (``address=None``) or join a Ray runtime for the block, and shut it down after."""
    kwargs: dict[str, object] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "runtime_env": worker_env(),
    }
    try:
        if is_loopback(address):
            start_local(ray, num_cpus or os.cpu_count() or 1, address=address, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--address {address}: cannot connect to Ray ({first[:200]})") from None
    quiet_ray_data()
    try:
        yield ray
    finally:
        ray.shutdown()


LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # Ray's switch; "0": node address 127.0.0.1
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(address: str | None) -> bool:
    """Whether ``address`` (``None``: a new local runtime) is this machine's loopback."""
    if address is None:
        return True
    host = address.split("://", 1)[-1].rsplit(":", 1)[0]
    return host in LOOPBACK_HOSTS


def start_local(ray, num_cpus: float | None = None, address: str | None = None, **kwargs: object) -> None:
    """``ray.init`` of a local runtime (``num_cpus``) that listens on 127.0.0.1 only, or of a
    connection to a runtime at a loopback ``address`` (which a runtime started here has).

    Ray resolves the node address to the machine's network address unless its cluster mode is
    off (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, what Ray does itself on macOS and Windows to
    keep a local runtime off the network). The switch is read into ``ray._private.ray_constants``
    when Ray is imported, so it is set there for the call as well as in the environment of the
    processes Ray starts, and both are put back afterwards (a later ``ray start`` or a connection
    to a cluster is unaffected)."""
    from ray._private import ray_constants

    before_env = os.environ.get(LOOPBACK_SWITCH)
    before_const = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[LOOPBACK_SWITCH] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    finally:
        if before_env is None:
            os.environ.pop(LOOPBACK_SWITCH, None)
        else:
            os.environ[LOOPBACK_SWITCH] = before_env
        if before_const is not None:
            ray_constants.ENABLE_RAY_CLUSTER = before_const


def worker_env() -> dict[str, object]:
    """The ``runtime_env`` of vmb's Ray jobs: workers import the same ``vmb`` as this process
    (its folder first on ``PYTHONPATH``; on a cluster, vmb must be installed on every node)."""
    import vmb

    root = str(Path(vmb.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}}


def quiet_ray_data() -> None:
    """No Ray Data progress bars on the user's terminal (vmb shows its own)."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


@dataclass(frozen=True)
class ActorShape:
    """Resources of one worker actor and how many of them run."""

    count: int
    num_cpus: float
    num_gpus: float

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus else "cpu"


def cluster_resources() -> tuple[float, float]:
    """``(CPUs, GPUs)`` of the connected Ray cluster."""
    import ray

    res = ray.cluster_resources()
    return float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0))


def actor_shape(workers: int | None = None, use_gpus: bool = True) -> ActorShape:
    """How many worker actors to start and what each takes (see the module docstring).

    ``workers`` overrides the count (at least 1); by default one per GPU, else one per two
    CPUs left after the tasks' CPU (at least 1)."""
    cpus, gpus = cluster_resources()
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1")
    if use_gpus and gpus >= 1:
        count = workers or int(gpus)
        return ActorShape(min(count, int(gpus)), num_cpus=1.0 if cpus >= 2 * gpus else 0.5,
                          num_gpus=1.0)  # fmt: skip
    per_actor = 0.5 if cpus < 8 else 1.0
    free = max(per_actor, cpus - 1.0)  # one CPU stays for the read and decode tasks
    count = workers or max(1, int(free // max(2 * per_actor, 1.0)))
    count = max(1, min(count, int(free / per_actor)))
    return ActorShape(count, num_cpus=per_actor, num_gpus=0.0)


__all__ = [
    "INSTALL_HINT",
    "ActorShape",
    "actor_shape",
    "check_address",
    "cluster_resources",
    "import_ray",
    "quiet_ray_data",
    "ray_runtime",
    "start_local",
    "worker_env",
]
