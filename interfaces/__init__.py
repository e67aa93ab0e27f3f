"""Ways in: the Flask app (REST API, later collection and dashboard), the CLI and job actors."""
