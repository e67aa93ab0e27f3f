"""The API fuzzed from its own OpenAPI document: no 5xx, no answer the document does not allow.

Schemathesis reads /api/v1/openapi.json from the Flask app in-process (WSGI) and
sends schema-valid and schema-invalid requests to every operation, authenticated
with a full-access key of an account that has a site with hits. Most requests name
that site, so that they reach the handlers rather than stopping at a 404.

(`schemathesis.pytest.from_fixture` cannot run under pytest 9 — it sets a node
attribute pytest no longer has — so each operation runs its own Hypothesis test.)
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.config import SchemathesisConfig

from infrastructure.bootstrap import Container
from interfaces.api.operations import OPERATIONS
from interfaces.app import create_app  # noqa: F401  (registers every operation)
from tests.analytics_helpers import hit_event, record, traffic
from tests.conftest import World, bearer

# Small enough that the whole file runs in well under a minute on two cores.
MAX_EXAMPLES = 25
# Negative data needs something to make invalid: operations without parameters or a
# body (discovery, the document itself) are fuzzed with valid requests only.
RUNS = sorted(
    (f"{o.method.upper()} {o.path}", mode)
    for o in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or o.query or o.path_params or o.body
)
BATCHES = {"POST /sites/{id}/hits/batch", "POST /sites/{id}/events/batch"}


def excluded_checks(label: str) -> list[Any]:
    """The checks that judge something other than "no 5xx, nothing off the document".

    - positive_data_acceptance wants every schema-valid request accepted, but some
      rules span fields and OpenAPI cannot state them (a date range of at most 730
      days with its start first; `event` in category.action form): those are the
      documented 400 and 422 answers, whose bodies are still checked against the
      document.
    - negative_data_rejection, for the batch endpoints only: a batch is partial-success
      by design (api.md): an invalid row is reported in `results` with a 200.
    """
    found = [checks.positive_data_acceptance]
    if label in BATCHES:
        found.append(checks.negative_data_rejection)
    return found


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    # Hundreds of requests from one key and one visitor: keep the rate limits out of the way.
    return {
        **env,
        "TINYLYTICS_API_RATE_LIMIT": "1000000",
        "TINYLYTICS_VISITOR_RATE_LIMIT": "1000000",
    }


@pytest.fixture
def fuzzed(app: Flask, world: World, container: Container) -> dict[str, Any]:
    """The schema as the app serves it, the key to send, and the site most requests name."""
    owner = world.account("fuzz@example.com", timezone="Asia/Kolkata")
    site = world.site(owner, "https://fuzz.example", label="Fuzzed")
    secret = world.key(owner, "fuzzer", "full_access")
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=i) for i in range(40)]
    now = datetime.now(UTC)
    record(
        container,
        sorted(
            [*traffic(site, 1, days, 300), hit_event(site.uuid, now, "/now", visitor="v")],
            key=lambda e: e.timestamp,
        ),
    )
    # Unknown query parameters and body fields are ignored by design (the query schemas
    # exclude them), so adding some does not make a request invalid.
    config = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    return {"schema": schema, "headers": bearer(secret), "site_id": site.id}


def test_every_operation_answers_as_documented(fuzzed: dict[str, Any]) -> None:
    """Each operation in turn, with valid and with invalid requests; every failure is
    reported at the end, named by operation (one set-up: it is most of the cost)."""
    assert {label for label, _ in RUNS} == {
        f"{method.upper()} {path}"
        for path, methods in fuzzed["schema"].raw_schema["paths"].items()
        for method in methods
    }, "the document and the operation register list the same operations"
    failures = []
    for label, mode in RUNS:
        try:
            fuzz(fuzzed, label, mode)
        except (Exception, BaseExceptionGroup) as error:  # run all, show every failure
            failures.append(f"{label} ({mode}):\n{error}")
    assert not failures, "\n\n".join(failures)


def recent_dates(case: Any, back: int, span: int, keep: int) -> Any:
    """The case as generated (one time in four), or with a range of recent days."""
    if keep:
        start = datetime.now(UTC).date() - timedelta(days=back)
        case.query = {
            **(case.query or {}),
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=span)).isoformat(),
        }
    return case


def fuzz(fuzzed: dict[str, Any], label: str, mode: GenerationMode) -> None:
    method, path = label.split(" ", 1)
    operation = fuzzed["schema"][path][method]
    cases = operation.as_strategy(generation_mode=mode)
    if "{id}" in path:
        # Mostly the account's own site; now and then whatever the document allows.
        own = operation.as_strategy(generation_mode=mode, path_parameters={"id": fuzzed["site_id"]})
        anything = cases
        cases = st.integers(0, 4).flatmap(lambda pick: anything if pick == 0 else own)
    if mode is GenerationMode.POSITIVE and "start_date" in str(operation.definition.raw):
        # Random dates are nearly always years apart (a 400): mostly use recent ones.
        cases = st.tuples(cases, st.integers(-3, 45), st.integers(0, 40), st.integers(0, 3)).map(
            lambda drawn: recent_dates(*drawn)
        )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Any) -> None:
        case.call_and_validate(headers=fuzzed["headers"], excluded_checks=excluded_checks(label))

    run()
