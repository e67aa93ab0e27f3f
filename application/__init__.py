"""Use cases: the event-sourced applications and the ports they need from the outside."""
