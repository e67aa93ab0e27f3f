"""Adapters: settings, persistence, password hashing, rate limits, jobs, erasure, wiring."""
