"""Every setting, read once from the environment; docs/deploy.md lists them."""

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from domain.bounded_cache import DEFAULT_BUDGET

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message says which and why."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1")
    return value


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"TINYLYTICS_TRUSTED_PROXIES: {part!r} is not an address or CIDR"
            ) from None
    return tuple(networks)


def _llm_url(raw: str) -> str | None:
    """TINYLYTICS_INSIGHTS_LLM_URL: the base URL of an OpenAI-compatible API (`…/v1`)."""
    url = raw.strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError("TINYLYTICS_INSIGHTS_LLM_URL must start with http:// or https://")
    return url or None


def _webhook_allowed(
    raw: str, setting: str = "TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS"
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], frozenset[str]]:
    """TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS (or `setting`): CIDRs (or addresses) and host names."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    hosts: set[str] = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            name = part.lower().rstrip(".")
            if not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?", name):
                raise SettingsError(f"{setting}: {part!r} is not a CIDR or host name") from None
            hosts.add(name)
    return tuple(networks), frozenset(hosts)


def _secret_key(raw: str) -> str | None:
    raw = raw.strip()
    if raw and len(raw) < 32:
        raise SettingsError("TINYLYTICS_SECRET_KEY must be at least 32 characters long")
    return raw or None


def _smtp_url(raw: str) -> str | None:
    """TINYLYTICS_SMTP_URL: smtp://user:password@host:587 (STARTTLS) or smtps://host:465."""
    raw = raw.strip()
    if raw and not raw.startswith(("smtp://", "smtps://")):
        raise SettingsError("TINYLYTICS_SMTP_URL must start with smtp:// or smtps://")
    return raw or None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    base_url: str | None  # None: taken from each request's host
    db_schema: str | None
    api_rate_limit_per_hour: int
    redis_prefix: str
    run_projections_in_process: bool
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    country_header: str | None = None
    geoip_db: Path | None = None
    ipinfo_token: str | None = None
    ipinfo_url: str = "https://api.ipinfo.io"
    visitor_rate_limit_per_minute: int = 25
    # What `serve` reads of a request body: at most this many bytes (else 413), and
    # all of it within this many seconds of the headers (else 408).
    max_body_bytes: int = 1024 * 1024
    body_timeout_seconds: int = 30
    # Webhook targets the SSRF guard lets through although their addresses are refused.
    webhook_allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    webhook_allowed_hosts: frozenset[str] = frozenset()
    # The dashboard: session signing key (None: generated once and kept), outgoing mail.
    secret_key: str | None = None
    smtp_url: str | None = None  # None: mail is written to <data>/outbox
    mail_from: str = "Tinylytics <tinylytics@localhost>"
    # What the caches of strings on the hot paths hold together, per process.
    cache_bytes: int = DEFAULT_BUDGET
    # The clock: handler threads per clock; how long delivery logs (sent mail, finished
    # webhook deliveries) are kept; whether the clock keeps the country database fresh.
    clock_threads: int = 4
    delivery_log_days: int = 30
    geoip_refresh: bool = True
    # Uptime checks: the networks and hosts the SSRF guard lets them reach although
    # their addresses are refused (TINYLYTICS_UPTIME_ALLOWED_NETWORKS, as for webhooks).
    uptime_allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    uptime_allowed_hosts: frozenset[str] = frozenset()
    # Domain expiry: the RDAP base URL (a bootstrap redirector, or a registry's server).
    rdap_url: str = "https://rdap.org"
    # Insights: an optional OpenAI-compatible chat-completions endpoint writes the words
    # (None: the default writer, on this machine); its model, key and deadline.
    insights_llm_url: str | None = None
    insights_llm_model: str = "gpt-4o-mini"
    insights_llm_key: str | None = None
    insights_llm_timeout: int = 30
    # Webmentions: sources the SSRF guard lets through although their addresses are
    # refused (tests' loopback pages), Webmentions an hour per source host, and how long
    # fetching a source may take in all.
    webmention_allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    webmention_allowed_hosts: frozenset[str] = frozenset()
    webmention_rate_limit: int = 60
    webmention_timeout_seconds: int = 10

    @property
    def is_postgres(self) -> bool:
        return self.database_url is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        database_url = env.get("DATABASE_URL", "").strip() or None
        if database_url and not database_url.startswith(
            ("postgresql://", "postgres://", "postgresql+psycopg://")
        ):
            raise SettingsError("DATABASE_URL must be a postgresql:// URL")
        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("REDIS_URL must be a redis:// or rediss:// URL")
        schema = env.get("TINYLYTICS_DB_SCHEMA", "").strip() or None
        if schema and not _SCHEMA.match(schema):
            raise SettingsError("TINYLYTICS_DB_SCHEMA must be a lower-case SQL identifier")
        base_url = env.get("TINYLYTICS_BASE_URL", "").strip().rstrip("/") or None
        if base_url and not base_url.startswith(("http://", "https://")):
            raise SettingsError("TINYLYTICS_BASE_URL must start with http:// or https://")
        data_dir = Path(env.get("TINYLYTICS_DATA_DIR", "").strip() or "data").resolve()
        geoip_db = env.get("TINYLYTICS_GEOIP_DB", "").strip()
        hook_networks, hook_hosts = _webhook_allowed(
            env.get("TINYLYTICS_WEBHOOK_ALLOWED_NETWORKS", "")
        )
        uptime_networks, uptime_hosts = _webhook_allowed(
            env.get("TINYLYTICS_UPTIME_ALLOWED_NETWORKS", ""), "TINYLYTICS_UPTIME_ALLOWED_NETWORKS"
        )
        mention_networks, mention_hosts = _webhook_allowed(
            env.get("TINYLYTICS_WEBMENTION_ALLOWED_NETWORKS", ""),
            "TINYLYTICS_WEBMENTION_ALLOWED_NETWORKS",
        )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            base_url=base_url,
            db_schema=schema,
            api_rate_limit_per_hour=_int(env, "TINYLYTICS_API_RATE_LIMIT", 1000),
            redis_prefix=env.get("TINYLYTICS_REDIS_PREFIX", "").strip() or "tinylytics",
            run_projections_in_process=_flag(
                env.get("TINYLYTICS_INPROCESS_PROJECTIONS"), default=redis_url is None
            ),
            trusted_proxies=_networks(env.get("TINYLYTICS_TRUSTED_PROXIES", "")),
            country_header=env.get("TINYLYTICS_COUNTRY_HEADER", "").strip() or None,
            geoip_db=Path(geoip_db) if geoip_db else None,
            ipinfo_token=env.get("TINYLYTICS_IPINFO_TOKEN", "").strip() or None,
            ipinfo_url=(
                env.get("TINYLYTICS_IPINFO_URL", "").strip().rstrip("/") or "https://api.ipinfo.io"
            ),
            visitor_rate_limit_per_minute=_int(env, "TINYLYTICS_VISITOR_RATE_LIMIT", 25),
            max_body_bytes=_int(env, "TINYLYTICS_MAX_BODY_BYTES", 1024 * 1024),
            body_timeout_seconds=_int(env, "TINYLYTICS_BODY_TIMEOUT", 30),
            webhook_allowed_networks=hook_networks,
            webhook_allowed_hosts=hook_hosts,
            secret_key=_secret_key(env.get("TINYLYTICS_SECRET_KEY", "")),
            smtp_url=_smtp_url(env.get("TINYLYTICS_SMTP_URL", "")),
            mail_from=env.get("TINYLYTICS_MAIL_FROM", "").strip()
            or "Tinylytics <tinylytics@localhost>",
            cache_bytes=_int(env, "TINYLYTICS_CACHE_MB", DEFAULT_BUDGET >> 20) << 20,
            clock_threads=_int(env, "TINYLYTICS_CLOCK_THREADS", 4),
            delivery_log_days=_int(env, "TINYLYTICS_DELIVERY_LOG_DAYS", 30),
            geoip_refresh=_flag(env.get("TINYLYTICS_GEOIP_REFRESH"), default=True),
            uptime_allowed_networks=uptime_networks,
            uptime_allowed_hosts=uptime_hosts,
            rdap_url=env.get("TINYLYTICS_RDAP_URL", "").strip().rstrip("/") or "https://rdap.org",
            insights_llm_url=_llm_url(env.get("TINYLYTICS_INSIGHTS_LLM_URL", "")),
            insights_llm_model=env.get("TINYLYTICS_INSIGHTS_LLM_MODEL", "").strip()
            or "gpt-4o-mini",
            insights_llm_key=env.get("TINYLYTICS_INSIGHTS_LLM_KEY", "").strip() or None,
            insights_llm_timeout=_int(env, "TINYLYTICS_INSIGHTS_LLM_TIMEOUT", 30),
            webmention_allowed_networks=mention_networks,
            webmention_allowed_hosts=mention_hosts,
            webmention_rate_limit=_int(env, "TINYLYTICS_WEBMENTION_RATE_LIMIT", 60),
            webmention_timeout_seconds=_int(env, "TINYLYTICS_WEBMENTION_TIMEOUT", 10),
        )

    def geoip_path(self) -> Path | None:
        """The country database: the setting, else the newest .mmdb under <data>/geo."""
        if self.geoip_db is not None:
            return self.geoip_db
        found = sorted((self.data_dir / "geo").glob("*.mmdb"), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None
