"""Dramatiq actors: the background jobs a worker runs.

Importing this module declares every actor on the broker that infrastructure/jobs.py
set up; `tinylytics worker` imports it before it starts consuming.
"""
