"""Send simulated traffic on its own clock: each message when its arrival is due.

At speed 1 a simulated second takes a real second, as live traffic would; at speed 6 a
simulated minute takes ten seconds. Arrival-time measures (dq_metrics' windows, consumer
lag) then see the traffic's shape: its spikes, drops and silences. Event times are left as
simulated, so above speed 1 they run ahead of the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from advertisex.ingest.simulator import Emitted


def paced(
    messages: Iterable[Emitted],
    start_ms: int,
    speed: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Emitted]:
    """Each message once (arrival_ms - start_ms) / speed has passed since the first call."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, not {speed}")
    began = clock()
    for message in messages:
        due = began + (message.arrival_ms - start_ms) / 1000 / speed
        wait = due - clock()
        if wait > 0:
            sleep(wait)
        yield message
