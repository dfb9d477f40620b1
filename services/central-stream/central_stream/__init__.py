"""central-stream: The Faust stream processor: authorisation, sessions, tickets, CP state."""
