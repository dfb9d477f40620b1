"""central-web: the live status page, the operator controls and the JSON API."""
