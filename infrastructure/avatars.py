"""Webring avatars: resized once with Pillow to 100x100 and 200x200 PNGs, kept in the database.

The database (not a folder) holds them so that every web process, on any host, can
serve them; they are small.
"""

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, String, Table, select

from domain.errors import DomainError

SIZES = (100, 200)
MAX_SOURCE_BYTES = 10 * 1024 * 1024

metadata = MetaData()
avatars = Table(
    "webring_avatars",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("size", Integer, primary_key=True),
    Column("png", LargeBinary, nullable=False),
)


class AvatarStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def setup(self) -> None:
        metadata.create_all(self.engine)

    def add(self, source: Path) -> str:
        """Resize an image file; its digest names the avatar."""
        try:
            data = source.read_bytes()
        except OSError as error:
            raise DomainError(f"Cannot read avatar {source}: {error.strerror}") from None
        if len(data) > MAX_SOURCE_BYTES:
            raise DomainError("Avatar image is too large (at most 10 MiB)")
        digest = hashlib.sha256(data).hexdigest()[:32]
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                square = ImageOps.fit(image.convert("RGBA"), (max(SIZES), max(SIZES)))
        except (UnidentifiedImageError, OSError, ValueError):
            raise DomainError(f"{source} is not an image Pillow can read") from None
        rows = []
        for size in SIZES:
            out = io.BytesIO()
            square.resize((size, size), Image.Resampling.LANCZOS).save(out, "PNG", optimize=True)
            rows.append({"digest": digest, "size": size, "png": out.getvalue()})
        with self.engine.begin() as conn:
            conn.execute(avatars.delete().where(avatars.c.digest == digest))
            conn.execute(avatars.insert(), rows)
        return digest

    def png(self, digest: str, size: int) -> bytes | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(avatars.c.png).where(avatars.c.digest == digest, avatars.c.size == size)
            ).scalar()
        return bytes(found) if found is not None else None
