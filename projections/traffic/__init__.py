"""The traffic read models: hits and custom events, their rollups and lifetime counters.

Writing: schema.py (the tables), decoding.py (events from the log), rollups.py (keys
and sums), first_seen.py (which hits are unique), replay.py (what a rebuild keeps in
memory), projection.py (the projection). Reading: intervals.py (a range cut into
days, hours and minutes), grouping.py (sums by dimension: the grouped-query SQL),
series.py (charts), listings.py (raw rows), totals.py (lifetime counters),
journeys.py (visitor journeys), reads.py (TrafficReads, what ReadModels hands out).
"""
