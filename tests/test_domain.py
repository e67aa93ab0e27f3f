"""Domain rules and aggregates, without any database: pure functions and in-memory events."""

import hashlib
import re
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from domain.accounts import Account
from domain.api_keys import (
    SECRET_LENGTH,
    Access,
    ApiKey,
    hash_secret,
    key_id_for,
    normalize_key_name,
)
from domain.claims import Claim
from domain.emails import normalize_email
from domain.errors import Conflict, DomainError
from domain.passwords import validate_password
from domain.paths import is_ignored, normalize_path, validate_ignore_patterns
from domain.sites import UID_LENGTH, Site, normalize_label
from domain.timezones import validate_timezone
from domain.urls import host_of, normalize_site_url


def names(aggregate: Aggregate) -> list[str]:
    """The class names of the events an aggregate has pending, collecting them."""
    return [type(e).__name__ for e in aggregate.collect_events()]


def replayed(events: list[Any]) -> Any:
    """Rebuild an aggregate from its events, as the repository would."""
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def stored_bytes(events: list[Any]) -> bytes:
    """What the event store would keep for these events (topic and state)."""
    mapper = Application().mapper
    stored = [mapper.to_stored_event(e) for e in events]
    return b"\n".join(s.topic.encode() + b" " + s.state for s in stored)


# -- site URLs ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("mysite.com", "https://mysite.com"),
        ("  mysite.com  ", "https://mysite.com"),
        ("https://mysite.com/", "https://mysite.com"),
        ("HTTPS://MySite.COM", "https://mysite.com"),
        ("http://mysite.com", "http://mysite.com"),
        ("https://mysite.com/blog/", "https://mysite.com/blog"),
        ("https://mysite.com/Blog", "https://mysite.com/Blog"),
        ("https://mysite.com/?utm=1#top", "https://mysite.com"),
        ("https://mysite.com.", "https://mysite.com"),
        ("https://mysite.com:8080/", "https://mysite.com:8080"),
        ("https://sub.my-site.co.uk", "https://sub.my-site.co.uk"),
        ("https://bücher.de", "https://xn--bcher-kva.de"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_site_urls_are_normalised(typed: str, canonical: str) -> None:
    assert normalize_site_url(typed) == canonical
    # Normalising is idempotent: the canonical form is its own canonical form.
    assert normalize_site_url(canonical) == canonical


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("ftp://mysite.com", "only http and https"),
        ("javascript://alert(1)", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("https://user:secret@mysite.com", "credentials"),
        ("https://user@mysite.com", "credentials"),
        ("https://my site.com", "spaces or control characters"),
        ("https://-mysite.com", "bad host"),
        ("https://my_site.com", "bad host"),
        ("https://", "bad host"),
        ("https://mysite.com:99999", "Invalid URL"),
        ("https://mysite.com:port", "Invalid URL"),
        ("https://mysite.com/a page", "spaces"),
        ("https://" + "a" * 2100 + ".com", "too long"),
    ],
)
def test_bad_site_urls_are_refused(typed: str, why: str) -> None:
    with pytest.raises(DomainError, match=why):
        normalize_site_url(typed)


def test_host_of_a_canonical_url() -> None:
    assert host_of("https://mysite.com:8080/blog") == "mysite.com"


# -- emails, time zones, passwords -------------------------------------------------------
def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalize_email("  Owner@Example.COM ") == "owner@example.com"
    assert normalize_email("first.last+tag@sub.example.org") == "first.last+tag@sub.example.org"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "owner",
        "owner@",
        "@example.com",
        "owner@example",
        "two@at@example.com",
        "with space@example.com",
        "a" * 65 + "@example.com",
        "owner@" + "a" * 250 + ".com",
    ],
)
def test_bad_emails_are_refused(bad: str) -> None:
    with pytest.raises(DomainError, match="Invalid email"):
        normalize_email(bad)


def test_timezones_must_be_iana_names() -> None:
    assert validate_timezone("Europe/Berlin") == "Europe/Berlin"
    assert validate_timezone(" UTC ") == "UTC"
    assert validate_timezone("America/Argentina/Buenos_Aires") == "America/Argentina/Buenos_Aires"
    for bad in ["", "Mars/Olympus_Mons", "europe/berlin", "GMT+25"]:
        with pytest.raises(DomainError, match="Unknown timezone"):
            validate_timezone(bad)


def test_passwords_need_eight_to_1024_characters() -> None:
    assert validate_password("8 chars!") == "8 chars!"
    assert validate_password("x" * 1024) == "x" * 1024
    for short in ["", "seven!!"]:
        with pytest.raises(DomainError, match="too short"):
            validate_password(short)
    with pytest.raises(DomainError, match="too long"):
        validate_password("x" * 1025)


# -- paths and ignore patterns -----------------------------------------------------------
def test_paths_always_start_with_a_slash() -> None:
    assert normalize_path("pricing") == "/pricing"
    assert normalize_path(" /pricing ") == "/pricing"
    assert normalize_path("/") == "/"
    with pytest.raises(DomainError, match="blank"):
        normalize_path("  ")


def test_ignore_patterns_are_trimmed_deduplicated_and_checked() -> None:
    assert validate_ignore_patterns([" /admin ", "", "/admin", "/wp-*", "  "]) == [
        "/admin",
        "/wp-*",
    ]
    assert validate_ignore_patterns([]) == []
    with pytest.raises(DomainError, match="must start with '/'"):
        validate_ignore_patterns(["admin"])
    with pytest.raises(DomainError, match="spaces"):
        validate_ignore_patterns(["/my page"])
    with pytest.raises(DomainError, match="too long"):
        validate_ignore_patterns(["/" + "a" * 500])
    with pytest.raises(DomainError, match="At most 100"):
        validate_ignore_patterns([f"/p{i}" for i in range(101)])
    assert len(validate_ignore_patterns([f"/p{i}" for i in range(100)])) == 100


@pytest.mark.parametrize(
    ("path", "patterns", "ignored"),
    [
        ("/admin", ["/admin"], True),
        ("/admin/", ["/admin"], True),
        ("/admin?tab=users", ["/admin"], True),
        ("/admin#top", ["/admin"], True),
        ("/admin/users", ["/admin"], False),
        ("/administrator", ["/admin"], False),
        ("/Admin", ["/admin"], False),
        ("/admin/users", ["/admin/*"], True),
        ("/admin/users/42/edit", ["/admin/*"], True),
        ("/admin/", ["/admin/*"], True),
        ("/admin", ["/admin/*"], False),
        ("/blog/post/edit", ["/blog/*/edit"], True),
        ("/blog/post/view", ["/blog/*/edit"], False),
        ("/wp-login.php", ["/admin", "/wp-*"], True),
        ("/", ["/"], True),
        ("/pricing", ["/"], False),
        ("/pricing", [], False),
        ("/pricing/", ["/pricing/"], True),
    ],
)
def test_is_ignored(path: str, patterns: list[str], ignored: bool) -> None:
    assert is_ignored(path, patterns) is ignored


# -- Account -----------------------------------------------------------------------------
def test_account_registers_with_normalised_email_and_defaults() -> None:
    account = Account.register(" Owner@Example.COM ", "hash", timezone="Europe/Berlin")
    assert account.email == "owner@example.com"
    assert account.timezone == "Europe/Berlin"
    assert account.is_subscribed is False
    assert account.email_confirmed is False
    assert account.site_ids == [] and account.key_ids == [] and account.past_emails == []
    assert names(account) == ["Registered"]


def test_account_refuses_bad_email_and_timezone() -> None:
    with pytest.raises(DomainError):
        Account.register("not-an-email", "hash")
    with pytest.raises(DomainError):
        Account.register("owner@example.com", "hash", timezone="Nowhere/Land")


def test_account_verbs_record_events_only_for_real_changes() -> None:
    account = Account.register("owner@example.com", "hash")
    account.collect_events()
    account.subscribe()
    account.subscribe()
    account.unsubscribe()
    account.unsubscribe()
    account.confirm_email()
    account.confirm_email()
    account.change_timezone("UTC")
    account.change_timezone("Asia/Tokyo")
    account.change_email("OWNER@example.com")
    account.change_email("new@example.com")
    account.change_password("hash2")
    site_id, key_id = uuid4(), uuid4()
    account.attach_site(site_id)
    account.attach_key(key_id)
    assert names(account) == [
        "Subscribed",
        "Unsubscribed",
        "EmailConfirmed",
        "TimezoneChanged",
        "EmailChanged",
        "PasswordChanged",
        "SiteAttached",
        "KeyAttached",
    ]
    assert account.email == "new@example.com"
    assert account.past_emails == ["owner@example.com"]
    assert account.email_confirmed is False  # a new address is unconfirmed again
    assert account.timezone == "Asia/Tokyo"
    assert account.password_hash == "hash2"
    assert account.site_ids == [site_id] and account.key_ids == [key_id]


def test_ending_sessions_and_changing_the_password_start_a_new_session_generation() -> None:
    account = Account.register("owner@example.com", "hash")
    assert account.session_generation == 0
    account.collect_events()
    account.end_sessions()
    account.change_password("hash2")
    account.end_sessions()
    assert account.session_generation == 3
    assert names(account) == ["SessionsEnded", "PasswordChanged", "SessionsEnded"]


def test_account_bad_change_records_nothing() -> None:
    account = Account.register("owner@example.com", "hash")
    account.collect_events()
    with pytest.raises(DomainError):
        account.change_timezone("Nowhere/Land")
    with pytest.raises(DomainError):
        account.change_email("nope")
    assert names(account) == []
    assert account.timezone == "UTC" and account.email == "owner@example.com"


def test_account_replays_from_its_events() -> None:
    account = Account.register("owner@example.com", "hash", is_subscribed=True)
    account.change_email("new@example.com")
    account.attach_site(uuid4())
    again = replayed(account.collect_events())
    assert again.id == account.id and again.version == account.version == 3
    assert vars(again) == vars(account)


# -- Site --------------------------------------------------------------------------------
def test_site_registers_with_canonical_url_uid_and_defaults() -> None:
    owner = uuid4()
    site = Site.register(owner, "MySite.com/blog/")
    assert site.owner_id == owner
    assert site.url == "https://mysite.com/blog"
    assert site.label == "mysite.com/blog"  # the label defaults to the URL without scheme
    assert re.fullmatch(rf"[a-z0-9]{{{UID_LENGTH}}}", site.uid)
    assert site.timezone == "UTC"
    assert site.is_public is False
    assert site.tracks_uniques is True
    assert site.allows_any_domain is False
    assert site.ignored_paths == []
    assert site.is_archived is False
    assert names(site) == ["Registered"]
    assert Site.register(owner, "mysite.com").uid != site.uid


def test_site_refuses_bad_url_label_and_timezone() -> None:
    owner = uuid4()
    with pytest.raises(DomainError):
        Site.register(owner, "ftp://mysite.com")
    with pytest.raises(DomainError, match="Label is too long"):
        Site.register(owner, "mysite.com", label="x" * 101)
    with pytest.raises(DomainError, match="Unknown timezone"):
        Site.register(owner, "mysite.com", timezone="Nowhere/Land")
    assert normalize_label("  My Blog ", "https://x.com") == "My Blog"
    assert normalize_label("", "https://x.com") == "x.com"


def test_site_verbs_record_events_only_for_real_changes() -> None:
    site = Site.register(uuid4(), "https://mysite.com", label="Mine")
    site.collect_events()
    site.change_url("mysite.com/")  # the same site, typed differently
    site.change_url("https://other.org")
    site.relabel("Mine")
    site.relabel("Blog")
    site.change_timezone("UTC")
    site.change_timezone("Europe/Paris")
    site.set_public(False)
    site.set_public(True)
    site.set_unique_tracking(True)
    site.set_unique_tracking(False)
    site.set_any_domain(False)
    site.set_any_domain(True)
    site.set_ignored_paths([])
    site.set_ignored_paths([" /admin ", "/admin", "/wp-*"])
    site.set_ignored_paths(["/admin", "/wp-*"])
    site.archive()
    site.archive()
    site.unarchive()
    site.unarchive()
    assert names(site) == [
        "UrlChanged",
        "Relabelled",
        "TimezoneChanged",
        "PublicStatsSet",
        "UniqueTrackingSet",
        "AnyDomainSet",
        "IgnoredPathsSet",
        "Archived",
        "Unarchived",
    ]
    assert site.url == "https://other.org"
    assert site.past_urls == ["https://mysite.com"]
    assert site.label == "Blog"
    assert site.timezone == "Europe/Paris"
    assert (site.is_public, site.tracks_uniques, site.allows_any_domain) == (True, False, True)
    assert site.ignored_paths == ["/admin", "/wp-*"]
    assert site.is_archived is False


def test_relabelling_to_blank_falls_back_to_the_url() -> None:
    site = Site.register(uuid4(), "https://mysite.com", label="Mine")
    site.relabel("   ")
    assert site.label == "mysite.com"


def test_archived_site_refuses_changes_but_can_be_unarchived() -> None:
    site = Site.register(uuid4(), "https://mysite.com")
    site.archive()
    site.collect_events()
    for change in [
        lambda: site.change_url("https://other.org"),
        lambda: site.relabel("x"),
        lambda: site.change_timezone("Europe/Paris"),
        lambda: site.set_public(True),
        lambda: site.set_unique_tracking(False),
        lambda: site.set_any_domain(True),
        lambda: site.set_ignored_paths(["/admin"]),
    ]:
        with pytest.raises(DomainError, match="archived"):
            change()
    assert names(site) == []
    site.unarchive()
    site.relabel("Back")
    assert names(site) == ["Unarchived", "Relabelled"]


def test_bad_ignore_patterns_leave_the_site_unchanged() -> None:
    site = Site.register(uuid4(), "https://mysite.com")
    site.set_ignored_paths(["/admin"])
    site.collect_events()
    with pytest.raises(DomainError):
        site.set_ignored_paths(["/ok", "no-slash"])
    assert site.ignored_paths == ["/admin"]
    assert names(site) == []


def test_site_replays_from_its_events() -> None:
    site = Site.register(uuid4(), "https://mysite.com")
    site.change_url("https://other.org")
    site.set_ignored_paths(["/admin/*"])
    site.archive()
    again = replayed(site.collect_events())
    assert vars(again) == vars(site)


# -- ApiKey ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("access", "prefix", "writes"),
    [("read_only", "tly-ro-", False), ("full_access", "tly-fa-", True)],
)
def test_keys_have_the_right_prefix_and_only_their_hash_is_kept(
    access: str, prefix: str, writes: bool
) -> None:
    owner = uuid4()
    key, secret = ApiKey.issue(owner, "  CI  ", access)
    assert secret.startswith(prefix)
    assert re.fullmatch(rf"{prefix}[A-Za-z0-9]{{{SECRET_LENGTH}}}", secret)
    assert key.id == key_id_for(secret)
    assert key.secret_hash == hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert key.name == "CI" and key.access == access and key.owner_id == owner
    assert key.can_write is writes
    assert key.is_revoked is False
    assert secret[: len(prefix)] == key.hint[: len(prefix)] and len(key.hint) == 10
    # The secret is in no attribute of the key and in nothing the store would keep.
    assert secret not in repr(vars(key))
    events = key.collect_events()
    assert [type(e).__name__ for e in events] == ["Issued"]
    kept = stored_bytes(events)
    assert secret.encode() not in kept
    assert secret[10:].encode() not in kept
    assert key.secret_hash.encode() in kept


def test_every_key_is_different() -> None:
    owner = uuid4()
    secrets = {ApiKey.issue(owner, "k", "read_only")[1] for _ in range(50)}
    assert len(secrets) == 50


def test_key_access_and_name_rules() -> None:
    assert Access.parse("read_only") is Access.READ_ONLY
    with pytest.raises(DomainError, match="read_only"):
        ApiKey.issue(uuid4(), "k", "admin")
    with pytest.raises(DomainError, match="blank"):
        ApiKey.issue(uuid4(), "   ", "read_only")
    with pytest.raises(DomainError, match="too long"):
        normalize_key_name("k" * 101)
    assert normalize_key_name("k" * 100) == "k" * 100


def test_key_revocation_is_recorded_once() -> None:
    key, _ = ApiKey.issue(uuid4(), "k", "full_access")
    key.collect_events()
    key.revoke()
    key.revoke()
    assert key.is_revoked is True
    assert names(key) == ["Revoked"]


def test_key_ids_follow_from_secrets() -> None:
    assert key_id_for("tly-ro-a") == key_id_for("tly-ro-a")
    assert key_id_for("tly-ro-a") != key_id_for("tly-ro-b")


# -- Claim -------------------------------------------------------------------------------
def test_claim_ids_depend_on_namespace_and_name() -> None:
    assert Claim.id_for("email", "a@example.com") == Claim.id_for("email", "a@example.com")
    assert Claim.id_for("email", "a@example.com") != Claim.id_for("email", "b@example.com")
    assert Claim.id_for("email", "a@example.com") != Claim.id_for("other", "a@example.com")
    # The separator keeps ("a", "b:c") and ("a:b", "c") apart.
    assert Claim.id_for("a", "b:c") != Claim.id_for("a:b", "c")


def test_claim_take_release_and_conflict() -> None:
    alice, bob = uuid4(), uuid4()
    claim = Claim(id=Claim.id_for("email", "a@example.com"), holder_id=alice)
    assert claim.is_held and claim.holder_id == alice
    claim.take(alice, "Email")  # taking what one holds is a no-op
    with pytest.raises(Conflict, match="Email is already taken"):
        claim.take(bob, "Email")
    assert claim.holder_id == alice
    claim.release()
    claim.release()
    assert not claim.is_held
    claim.take(bob, "Email")
    assert claim.holder_id == bob
    assert names(claim) == ["Made", "Released", "Taken"]


def test_claim_state_does_not_contain_the_name() -> None:
    claim = Claim(id=Claim.id_for("email", "secret-person@example.com"), holder_id=uuid4())
    assert b"secret-person" not in stored_bytes(claim.collect_events())
