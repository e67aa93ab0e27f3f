"""Read models built from the notification logs, and the runner that keeps them current."""
