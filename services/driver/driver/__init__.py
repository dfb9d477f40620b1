"""driver: The driver's command-line app."""
