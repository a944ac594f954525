"""Schema-driven tests (schemathesis): every operation, generated inputs, a real key.

No server error, every status code documented, every body and content type as the schema says.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def _keep_the_test_connection():
    """schemathesis calls the WSGI app itself: keep Django from closing the test's database
    connection at the end of each request, as Django's own test client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(sim, alpha, settings, _keep_the_test_connection):
    """A key whose partner has messages and a statement, so reads find something."""
    from tests.factories import MessageFactory, StatementFactory

    settings.API_RATE_LIMIT = "100000/min"
    MessageFactory(account=alpha.account)
    StatementFactory(partner=alpha.partner)
    return alpha.raw_key


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_as_its_schema_says(case, api_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)


def test_schema_is_served_with_a_docs_page(client):
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "Partner Portal API"
    assert client.get("/api/v1/docs").status_code == 200
