"""What the integration and end-to-end tests share: waiting for a condition,
the running stack's addresses, and small Kafka/MariaDB readers."""
