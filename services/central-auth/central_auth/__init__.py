"""central-auth: TCP registration, authentication and liveness of charging points."""
