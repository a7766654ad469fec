"""The PynamoDB models and terraform/resources.json describe the same tables."""

import pytest

from functions.core.models import MODELS
from scripts.local_cloud.resources import Deployment, Resources

RESOURCES = Resources(Deployment("yc", "eu-central-1", "123456789012"))


def keys(key_schema: list[dict]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in key_schema}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_matches_resources(name):
    schema = MODELS[name]._get_schema()
    spec = RESOURCES.raw["tables"][name]
    expected = {"HASH": spec["hash_key"]}
    if spec.get("range_key"):
        expected["RANGE"] = spec["range_key"]
    assert keys(schema["key_schema"]) == expected
    assert {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]} == (
        spec["attributes"]
    )
    indexes = {
        i["index_name"]: keys(i["key_schema"]) for i in schema.get("global_secondary_indexes", [])
    }
    assert indexes == {
        n: {"HASH": i["hash_key"], "RANGE": i["range_key"]} for n, i in spec["indexes"].items()
    }


def test_every_table_but_idempotency_has_a_model():
    assert set(RESOURCES.raw["tables"]) - set(MODELS) == {"idempotency"}
