"""Per-view importance (§3.1, Eqs. 3-4).

A circular buffer of about 1000 recent per-image losses l = L_mask(j) + L_image(j) gives their mean mu and
standard deviation sd. The network loss of image j is scaled by

    s_p = max(tanh((mu - l_j) / sd) + 1, 1)                                                  (3)

as printed (well-fitting images count up to twice; `network="samurai"` is SAMURAI's code instead,
clip(tanh((mu - l_j) / sd) + 1, 0, 1), which turns badly fitting images down). The camera loss of image j
is scaled by s_q, which starts at 1 and follows

    s_q,t = s_q,t-1 (lambda_p g_t + 1 - lambda_p),   g_t = min(tanh((l_j - mu) / sd) + 1, 1),   lambda_p = 0.05

Eq. 4 as printed (a max, and mu - l) can only grow, against its own text ("cameras that perform well ...
are gradually faded out of the optimization", "badly initialized camera poses ... get potentially large
updates"); this reading does what the text says: a well-fitting view's camera updates shrink geometrically,
a badly fitting one keeps full updates. Both start at the half-way point of the annealing (App. A.5).
"""

from __future__ import annotations

import math

from paperzoo.core.errors import ConfigError


class ViewImportance:
    def __init__(self, views: int, buffer: int = 1000, rate: float = 0.05, network: str = "printed"):
        if network not in ("printed", "samurai"):
            raise ConfigError(f"view importance: network={network!r}; expected 'printed' or 'samurai'")
        self.buffer: list[float] = []
        self.size, self.rate, self.network = buffer, rate, network
        self.camera = [1.0] * views
        self._next = 0

    def record(self, loss: float) -> None:
        if len(self.buffer) < self.size:
            self.buffer.append(loss)
        else:
            self.buffer[self._next] = loss
        self._next = (self._next + 1) % self.size

    def _stats(self) -> tuple[float, float] | None:
        if len(self.buffer) < 2:
            return None
        mu = sum(self.buffer) / len(self.buffer)
        sd = math.sqrt(sum((x - mu) ** 2 for x in self.buffer) / (len(self.buffer) - 1))
        return (mu, sd) if sd > 0 else None

    def network_weight(self, loss: float) -> float:
        """s_p for an image whose current loss is `loss` (1 before the buffer has a spread)."""
        stats = self._stats()
        if stats is None:
            return 1.0
        mu, sd = stats
        s = math.tanh((mu - loss) / sd) + 1
        return max(s, 1.0) if self.network == "printed" else min(max(s, 0.0), 1.0)

    def camera_weight(self, view: int, loss: float) -> float:
        """Update and return s_q of `view` after a step with loss `loss`."""
        stats = self._stats()
        if stats is not None:
            mu, sd = stats
            g = min(math.tanh((loss - mu) / sd) + 1, 1.0)
            self.camera[view] *= self.rate * g + 1 - self.rate
        return self.camera[view]

    def state_dict(self) -> dict:
        return {"buffer": list(self.buffer), "camera": list(self.camera), "next": self._next}

    def load_state_dict(self, state: dict) -> None:
        self.buffer, self.camera, self._next = list(state["buffer"]), list(state["camera"]), int(state["next"])
