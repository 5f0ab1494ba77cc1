"""Fuzzing the OpenAPI document (schemathesis), compatibility routes included.

For every operation, schema-valid and schema-violating requests are sent to
the real server: every answer must be below 500 and match the documented
schema and content type, and a request the server refuses (4xx) must leave
every table unchanged.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from sqlalchemy import create_engine, func, select

from cpap_lib.server.app import create_app
from cpap_lib.server.models import Base
from cpap_lib.server.settings import Settings

EXAMPLES = 20
"""Examples per operation and generation mode (positive, negative)."""

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module")
def row_counts(database_url):
    """A function returning the number of rows of every table."""
    engine = create_engine(database_url)
    tables = sorted(Base.metadata.tables.values(), key=lambda t: t.name)

    def counts() -> dict[str, int]:
        with engine.connect() as connection:
            return {t.name: connection.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}

    yield counts
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_fuzzed_requests_never_fail_the_server_and_rejections_store_nothing(operation, server, row_counts):
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(
        max_examples=2 * EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        before = row_counts()
        response = case.call(base_url=server.url, timeout=30)
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )
        if response.status_code >= 400:
            assert row_counts() == before, (
                f"{case.method} {case.formatted_path}: {response.status_code} but rows stored"
            )

    check()
