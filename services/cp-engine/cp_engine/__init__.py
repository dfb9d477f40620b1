"""cp-engine: The charging point: commands, supply simulation, telemetry, health answers."""
