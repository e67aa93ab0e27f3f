"""The sites read model: every site with its settings, listed per owner and found by id."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    func,
    select,
)

from application.erasure import ErasureScope
from domain.accounts import Account
from domain.sites import Site
from projections.base import Projection, Tables, event_type, set_columns, utc


class SitesProjection(Projection):
    name = "sites"
    source = "configuration"

    @staticmethod
    def define(metadata: MetaData, suffix: str) -> Tables:
        table = Table(
            "sites" + suffix,
            metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("uuid", Uuid, nullable=False),
            Column("uid", String(64), nullable=False),
            Column("owner_uuid", Uuid, nullable=False),
            Column("url", String(2048), nullable=False),
            Column("label", String(100), nullable=False),
            Column("timezone", String(64), nullable=False),
            Column("public", Boolean, nullable=False),
            Column("unique_tracking", Boolean, nullable=False),
            Column("any_domain", Boolean, nullable=False),
            Column("ignored_paths", JSON, nullable=False),
            Column("active", Boolean, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Index(f"ix_sites{suffix}_uuid", "uuid", unique=True),
            Index(f"ix_sites{suffix}_uid", "uid", unique=True),
            Index(f"ix_sites{suffix}_owner", "owner_uuid", "id"),
        )
        # Report recipients sit in a table of their own: a new table is created on an
        # existing install by `setup()`, a new column on `sites` would not be.
        recipients = Table(
            "site_report_recipients" + suffix,
            metadata,
            Column("site_uuid", Uuid, primary_key=True),
            Column("recipients", JSON, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )
        return {"sites": table, "recipients": recipients}

    def _recipients_set(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        table = t["recipients"]
        conn.execute(delete(table).where(table.c.site_uuid == e.originator_id))
        if e.recipients:
            conn.execute(
                table.insert().values(
                    site_uuid=e.originator_id,
                    recipients=list(e.recipients),
                    updated_at=e.timestamp,
                )
            )

    def _removed(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        # The site's own events are erased with it; this row goes even before that.
        for name in ("sites", "recipients"):
            table = t[name]
            key = table.c.uuid if name == "sites" else table.c.site_uuid
            conn.execute(delete(table).where(key == e.site_id))

    def _unsubscribed(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        table = t["recipients"]
        row = conn.execute(
            select(table.c.recipients).where(table.c.site_uuid == e.originator_id)
        ).first()
        if row is None:
            return
        left = [a for a in row.recipients if a != e.address]
        conn.execute(delete(table).where(table.c.site_uuid == e.originator_id))
        if left:
            conn.execute(
                table.insert().values(
                    site_uuid=e.originator_id, recipients=left, updated_at=e.timestamp
                )
            )

    def _registered(self, conn: Connection, t: Tables, e: Any, nid: int) -> None:
        conn.execute(
            t["sites"]
            .insert()
            .values(
                id=nid,
                uuid=e.originator_id,
                uid=e.uid,
                owner_uuid=e.owner_id,
                url=e.url,
                label=e.label,
                timezone=e.timezone,
                public=False,
                unique_tracking=True,
                any_domain=False,
                ignored_paths=[],
                active=True,
                created_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )

    handlers = {
        event_type(Site, "Registered"): _registered,
        event_type(Site, "UrlChanged"): set_columns("sites", url=lambda e: e.url),
        event_type(Site, "Relabelled"): set_columns("sites", label=lambda e: e.label),
        event_type(Site, "TimezoneChanged"): set_columns("sites", timezone=lambda e: e.timezone),
        event_type(Site, "PublicStatsSet"): set_columns("sites", public=lambda e: e.public),
        event_type(Site, "UniqueTrackingSet"): set_columns("sites", unique_tracking=lambda e: e.on),
        event_type(Site, "AnyDomainSet"): set_columns("sites", any_domain=lambda e: e.on),
        event_type(Site, "IgnoredPathsSet"): set_columns(
            "sites", ignored_paths=lambda e: list(e.patterns)
        ),
        event_type(Site, "Archived"): set_columns("sites", active=lambda e: False),
        event_type(Site, "Unarchived"): set_columns("sites", active=lambda e: True),
        event_type(Site, "ReportRecipientsSet"): _recipients_set,
        event_type(Site, "ReportUnsubscribed"): _unsubscribed,
        event_type(Account, "SiteRemoved"): _removed,
    }

    def erase(self, conn: Connection, tables: Tables, scope: ErasureScope) -> None:
        table = tables["sites"]
        if scope.whole_account:
            conn.execute(delete(table).where(table.c.owner_uuid == scope.account_id))
        if scope.site_ids:
            conn.execute(delete(table).where(table.c.uuid.in_(scope.site_ids)))
            recipients = tables["recipients"]
            conn.execute(delete(recipients).where(recipients.c.site_uuid.in_(scope.site_ids)))


@dataclass(frozen=True)
class SiteRow:
    """A site as the read model lists it (its integer id comes from the event store)."""

    id: int
    uuid: UUID
    uid: str
    owner_uuid: UUID
    url: str
    label: str
    timezone: str
    public: bool
    unique_tracking: bool
    any_domain: bool
    ignored_paths: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


def _site(row: Any) -> SiteRow:
    values = dict(row._mapping)
    values["created_at"] = utc(values["created_at"])
    values["updated_at"] = utc(values["updated_at"])
    values["ignored_paths"] = list(values["ignored_paths"] or [])
    return SiteRow(**values)


class SiteReads:
    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.table = tables["sites"]

    def of_owner(self, owner_id: UUID | None) -> list[SiteRow]:
        """An owner's sites (everyone's for None), oldest first."""
        query = select(self.table).order_by(self.table.c.id)
        if owner_id is not None:
            query = query.where(self.table.c.owner_uuid == owner_id)
        with self.engine.connect() as conn:
            return [_site(row) for row in conn.execute(query)]

    def page_of_owner(self, owner_id: UUID, offset: int, limit: int) -> tuple[int, list[SiteRow]]:
        """A page of an owner's sites as the sites list shows them (active first, then
        by label), and how many the owner has."""
        t = self.table
        mine = t.c.owner_uuid == owner_id
        query = (
            select(t)
            .where(mine)
            .order_by(t.c.active.desc(), func.lower(t.c.label), t.c.id)
            .offset(offset)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(t).where(mine)).scalar()
            return int(total or 0), [_site(row) for row in conn.execute(query)]

    def by_number(self, number: int, owner_id: UUID) -> SiteRow | None:
        """The owner's site with this integer id; None for anyone else's."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(self.table).where(
                    self.table.c.id == number, self.table.c.owner_uuid == owner_id
                )
            ).first()
        return _site(row) if row is not None else None

    def number_of(self, site_id: UUID) -> int | None:
        """The integer id the API knows a site by (None until the read model has it)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(self.table.c.id).where(self.table.c.uuid == site_id)
            ).scalar()
        return int(found) if found is not None else None
