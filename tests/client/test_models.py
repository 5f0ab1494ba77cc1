"""The client's models hold exactly the fields of the server's response schemas (no drift)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

import pytest

from cpap_lib.client import models
from cpap_lib.server import schemas


@pytest.mark.parametrize("model", list(models.SERVER_SCHEMAS), ids=lambda m: m.__name__)
def test_model_fields_match_the_server_schema(model):
    schema_name, renamed = models.SERVER_SCHEMAS[model]
    server_fields = list(getattr(schemas, schema_name).model_fields)
    expected = [new for name in server_fields for new in renamed.get(name, (name,))]
    assert [f.name for f in fields(model)] == expected


def test_every_model_is_checked():
    dataclasses_in_models = {
        v for v in vars(models).values() if isinstance(v, type) and is_dataclass(v) and v.__module__ == models.__name__
    }
    assert dataclasses_in_models == set(models.SERVER_SCHEMAS)
