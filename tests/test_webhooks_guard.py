"""The SSRF guard: every refused address class, URL rules, the operator's allow list, and
a client that resolves once and connects to the very address it checked."""

import ipaddress
from collections.abc import Callable, Iterator

import pytest

from domain.addresses import AddressPolicy, address_refusal, literal_address
from domain.errors import DomainError
from domain.webhooks import validate_webhook_url
from infrastructure.safe_http import SafeHttpClient
from tests.webhook_helpers import Reply, Subscriber, subscriber

REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "reserved"),
    ("198.51.100.7", "reserved"),
    ("203.0.113.9", "reserved"),
    ("198.18.0.1", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("ff02::1", "multicast"),
    ("100::1", "reserved"),
    ("2001:db8::1", "reserved"),
    ("2001::1", "Teredo"),
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("64:ff9b:1::1", "reserved"),
    ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "64:ff9b::808:808"]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_every_refused_class(address: str, reason: str) -> None:
    found = address_refusal(ipaddress.ip_address(address))
    assert found is not None and reason in found, found


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("10.0.0.1.", "10.0.0.1"),
    ],
)
def test_every_literal_form_is_read_as_the_resolver_reads_it(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "cafe.be", "deadbeef", "a.b.c"])
def test_names_are_not_literals(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("example.com/hook", "must start with http:// or https://"),
        ("https://user:pass@example.com/hook", "user name or password"),
        ("https://token@example.com/hook", "user name or password"),
        ("https:///hook", "must name a host"),
        ("https://exa mple.com/", "spaces or control characters"),
        ("https://example.com:99999/", "not a valid URL"),
        ("", "can't be blank"),
        ("https://example.com/" + "a" * 2100, "too long"),
        ("http://localhost:8080/hook", "localhost"),
        ("http://api.localhost/hook", "localhost"),
        ("http://127.0.0.1/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:10.0.0.1]/hook", "IPv4-mapped"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://100.64.1.1/", "carrier-grade NAT"),
        ("http://192.168.0.10/", "private"),
        ("http://[fd00::1]/", "unique-local"),
        ("http://0.0.0.0:5000/", "unspecified"),
    ],
)
def test_webhook_urls_are_refused_with_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        validate_webhook_url(url, AddressPolicy())


def test_good_urls_are_normalized() -> None:
    policy = AddressPolicy()
    assert validate_webhook_url(" HTTPS://Hooks.Example.COM/in?a=1#frag ", policy) == (
        "https://hooks.example.com/in?a=1"
    )
    assert validate_webhook_url("http://93.184.216.34:8080", policy) == "http://93.184.216.34:8080/"


def test_the_operator_allows_networks_and_host_names() -> None:
    policy = AddressPolicy(
        allowed_networks=(ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("fd00::/8")),
        allowed_hosts=frozenset({"hooks.internal"}),
    )
    assert validate_webhook_url("http://127.0.0.1:9000/x", policy)
    assert validate_webhook_url("http://[fd00::5]/x", policy)
    assert validate_webhook_url("http://hooks.internal/x", policy)
    with pytest.raises(DomainError, match="loopback"):
        validate_webhook_url("http://127.0.0.2/x", policy)
    assert policy.refusal(ipaddress.ip_address("10.1.1.1"), "hooks.internal") is None
    assert policy.refusal(ipaddress.ip_address("10.1.1.1"), "other.internal") is not None
    # An allowed IPv4 network does not open its IPv4-mapped IPv6 form.
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is not None


# -- the client --------------------------------------------------------------------------------
class FakeResolver:
    """Answers from a script, one answer per lookup, and counts the lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def allow_loopback() -> AddressPolicy:
    return AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))


@pytest.fixture
def sub() -> Iterator[Subscriber]:
    with subscriber() as running:
        yield running


def client(policy: AddressPolicy, resolver: Callable[[str, int], list[str]]) -> SafeHttpClient:
    return SafeHttpClient(policy, resolver=resolver, connect_timeout=2, total_timeout=3)


def test_it_resolves_once_and_connects_to_the_checked_address(sub: Subscriber) -> None:
    """A rebinding DNS answers 127.0.0.1 (allowed) and then 10.0.0.1: one lookup, so the
    request goes to the address that was checked, with the name in the Host header."""
    resolver = FakeResolver(["127.0.0.1"], ["10.0.0.1"])
    outcome = client(allow_loopback(), resolver).post(
        f"http://rebind.example:{sub.port}/hook", b"{}", {"Content-Type": "application/json"}
    )
    assert outcome.status == 200, outcome
    assert resolver.calls == ["rebind.example"]
    (request,) = sub.received
    assert request.headers["host"] == f"rebind.example:{sub.port}"


def test_a_refused_answer_is_never_connected_to(sub: Subscriber) -> None:
    """The other way round: the first (only) answer is refused; the allowed one that a
    second lookup would give is never asked for."""
    resolver = FakeResolver(["10.0.0.1"], ["127.0.0.1"])
    outcome = client(allow_loopback(), resolver).post(
        f"http://rebind.example:{sub.port}/hook", b"{}", {}
    )
    assert outcome.status is None
    assert outcome.error == "Refused address: 10.0.0.1 is a private network address"
    assert resolver.calls == ["rebind.example"] and sub.received == []


def test_of_several_answers_only_allowed_ones_are_used(sub: Subscriber) -> None:
    resolver = FakeResolver(["169.254.169.254", "10.0.0.1", "127.0.0.1"])
    outcome = client(allow_loopback(), resolver).post(f"http://multi.example:{sub.port}/", b"", {})
    assert outcome.status == 200 and len(sub.received) == 1


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_the_client_refuses_every_class_before_connecting(address: str, reason: str) -> None:
    resolver = FakeResolver([address])
    outcome = client(AddressPolicy(), resolver).post("http://target.example:9/", b"", {})
    assert outcome.status is None and outcome.error is not None
    assert outcome.error.startswith("Refused address") and reason in outcome.error


def test_the_client_refuses_literal_urls_too(sub: Subscriber) -> None:
    resolver = FakeResolver(["8.8.8.8"])
    outcome = client(AddressPolicy(), resolver).post(sub.url(), b"", {})
    assert outcome.status is None and "loopback" in (outcome.error or "")
    assert resolver.calls == [] and sub.received == []


def test_an_allowed_host_name_may_resolve_anywhere(sub: Subscriber) -> None:
    policy = AddressPolicy(allowed_hosts=frozenset({"hooks.internal"}))
    outcome = client(policy, FakeResolver(["127.0.0.1"])).post(
        f"http://hooks.internal:{sub.port}/", b"", {}
    )
    assert outcome.status == 200


def test_unknown_names_and_closed_ports_are_errors() -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    failed = client(AddressPolicy(), nxdomain).post("https://nowhere.example/", b"", {})
    assert failed.status is None and "DNS lookup of nowhere.example failed" in (failed.error or "")
    with subscriber() as closed:
        port = closed.port
    refused = client(allow_loopback(), FakeResolver(["127.0.0.1"])).post(
        f"http://127.0.0.1:{port}/", b"", {}
    )
    assert refused.error == "Connection refused"


def test_redirects_are_not_followed(sub: Subscriber) -> None:
    sub.default = Reply(302, headers={"Location": sub.url("/elsewhere")})
    outcome = client(allow_loopback(), FakeResolver(["127.0.0.1"])).post(sub.url(), b"{}", {})
    assert (outcome.status, outcome.location) == (302, sub.url("/elsewhere"))
    assert not outcome.ok and [r.path for r in sub.received] == ["/hook"]


def test_only_the_first_kilobytes_of_a_huge_body_are_read(sub: Subscriber) -> None:
    sub.default = Reply(200, body=b"x" * (20 * 1024 * 1024))
    outcome = client(allow_loopback(), FakeResolver(["127.0.0.1"])).post(sub.url(), b"{}", {})
    assert outcome.ok and outcome.body == "x" * 4096
    assert outcome.duration_ms < 2000


def test_a_hanging_or_dripping_endpoint_is_cut_off_at_the_deadline(sub: Subscriber) -> None:
    fast = SafeHttpClient(
        allow_loopback(), FakeResolver(["127.0.0.1"]), connect_timeout=1, total_timeout=0.6
    )
    sub.replies = [Reply(200, delay=3), Reply(200, body=b"slow" * 10, drip=True)]
    for _ in range(2):
        outcome = fast.post(sub.url(), b"{}", {})
        assert outcome.status is None
        assert outcome.error == "Timed out (no complete answer within 0.6 s)", outcome
        assert 500 <= outcome.duration_ms < 1500
