"""Unique hits: a rebuild's in-memory seen hashes decide exactly as the table does.

Live batches look hashes up in `traffic_unique_seen`; a rebuild keeps them in memory
(projections/first_seen.py). Fed the same batches, with hits that arrive days late
and batches without hashes, both must pick the same unique hits and keep the same rows.
"""

import random
import uuid
from datetime import date, timedelta

from sqlalchemy import MetaData, select

from infrastructure.bootstrap import Container
from projections.bulk import Bulk
from projections.traffic.decoding import TrafficItem
from projections.traffic.first_seen import SeenInMemory, first_in_table
from projections.traffic.projection import TrafficProjection


def test_memory_and_table_pick_the_same_unique_hits(container: Container) -> None:
    seen = TrafficProjection.define(MetaData(), "_first_seen_test")["seen"]
    with container.engine.begin() as conn:
        seen.create(conn)
    rng = random.Random(5)
    sites = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(2)]
    start = date(2026, 3, 1)
    memory = SeenInMemory()
    nid, day, hashed, unique = 1, 0, 0, 0
    for batch in range(14):
        items = []
        for _ in range(rng.randrange(1, 60)):
            # Mostly in time order; some hits come days late, some have no hash (and one
            # batch has none at all, so that nothing is forgotten after it).
            late = rng.choice([0, 0, 0, 0, 1, 3, 5])
            moment = f"{(start + timedelta(days=max(0, day - late))).isoformat()} 12:00:00.000000"
            has_hash = batch != 6 and rng.random() > 0.1
            fields = {"unique_hash": f"h{rng.randrange(8)}" if has_hash else None}
            items.append((nid, TrafficItem("hit", rng.choice(sites), moment, fields)))
            nid += 1
        day += rng.choice([0, 1, 1, 2])
        with container.engine.begin() as conn:
            from_table = first_in_table(Bulk(conn), seen, items)
        assert memory.first(items) == from_table, f"batch {batch}"
        with container.engine.connect() as conn:
            stored = {
                (row.site_uuid.hex, row.day.isoformat(), row.hash)
                for row in conn.execute(select(seen))
            }
        assert set(memory.rows()) == stored, f"batch {batch}"
        hashed += sum(1 for _, item in items if item.fields["unique_hash"])
        unique += len(from_table)
    # The hashes did recur, and late hits found their day forgotten or not.
    assert 0 < unique < hashed
    # A site that is gone (erased meanwhile) is forgotten.
    memory.forget(sites[1:])
    assert {row[0] for row in memory.rows()} == {sites[0]}
