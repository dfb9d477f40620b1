"""The EVCharging contract: every message, topic and setting shared by the services.

A message is defined once, here, and every service imports it; nobody builds a
message by hand (see docs/protocol.md, generated from this package).
"""
