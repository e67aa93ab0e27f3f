"""The Tinylytics domain: aggregates, their events and pure rules.

Nothing here imports a framework or an outer layer: the rules can be read and
tested without a database, a web server or a queue.
"""
