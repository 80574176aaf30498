"""torch.hub entry points: one per falsr-zoo model, made from the zoo's registry.

    model = torch.hub.load("path/to/falsr-zoo", "falsr_b", source="local")   # official weights
    net = torch.hub.load("path/to/falsr-zoo", "renasnet", source="local")    # untrained: no weights are reachable

Names: ``falsr_a``, ``falsr_b``, ``falsr_c``, ``renasnet``, ``renasnet_cifar10`` (``torch.hub.list``);
``torch.hub.help`` shows each one's docstring. ``pretrained`` defaults to True where weights exist;
other keyword arguments go to ``falsr_zoo.load`` (``weights=``, ``options=``, ``device=``,
``offline=``). See :mod:`falsr_zoo.torch_hub`.
"""

from falsr_zoo.torch_hub import DEPENDENCIES as _DEPENDENCIES
from falsr_zoo.torch_hub import entry_points as _entry_points

dependencies = list(_DEPENDENCIES)

globals().update(_entry_points())
