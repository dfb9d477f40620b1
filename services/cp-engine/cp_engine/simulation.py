"""The physics of the simulated charger and the habits of the automatic driver.

Power stays near the CP's rating (a car draws a little less than the maximum
and wanders by a few per cent); energy is power × time. `time_factor` lets a
demo compress time: at 60, each real second counts as a minute of charging.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from cp_engine.charging import Engine, Phase

SECONDS_PER_HOUR = Decimal(3600)
KW = Decimal("0.001")


@dataclass(frozen=True)
class Charger:
    rated_kw: Decimal
    time_factor: Decimal = Decimal(1)

    def power(self, rng: random.Random) -> Decimal:
        """The power drawn during one tick: 92-100 % of the rating."""
        share = Decimal(str(rng.uniform(0.92, 1.0)))
        return (self.rated_kw * share).quantize(KW)

    def hours(self, seconds: float) -> Decimal:
        """Charging hours that `seconds` of real time stand for."""
        return Decimal(str(seconds)) * self.time_factor / SECONDS_PER_HOUR


@dataclass(frozen=True)
class AutoPilot:
    """Plugs in after an authorisation and unplugs after a while, so a scaled
    stack charges with nobody at the keyboard."""

    plug_delay: float = 2.0
    duration: float = 20.0
    energy: Decimal | None = None

    def action(self, engine: Engine, now: float) -> str | None:
        """'plug', 'unplug' or None, for the engine as it is at `now` (monotonic seconds)."""
        session = engine.session
        if session is None or engine.faulty:
            return None
        if engine.phase == Phase.AUTHORISED and now - session.authorised_at >= self.plug_delay:
            return "plug"
        if engine.phase == Phase.SUPPLYING and session.plugged_at is not None:
            if now - session.plugged_at >= self.duration:
                return "unplug"
            if self.energy is not None and session.kwh >= self.energy:
                return "unplug"
        return None
