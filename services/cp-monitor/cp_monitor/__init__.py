"""cp-monitor: Watches one engine and keeps its CP authenticated with central-auth."""
