"""The config file's JSON Schema (`config/gateway.schema.json`, generated from the config
model by `mcp-gateway schema`) against every config the project ships, with an independent
validator (the `jsonschema` package); and the schema refusing what the loader refuses.

Run from the repository root after `cargo build --bin mcp-gateway`.
"""

import json
import subprocess

import jsonschema
import pytest
import yaml

from test_python_sdk import ROOT, TARGET

SCHEMA = json.loads((ROOT / "config" / "gateway.schema.json").read_text())
SHIPPED = sorted(
    p for p in [*ROOT.glob("config/*.yaml"), *ROOT.glob("examples/**/*.yaml")]
)


def test_the_committed_schema_is_what_the_binary_prints():
    out = subprocess.run([str(TARGET / "mcp-gateway"), "schema"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == SCHEMA


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_configs_validate(path):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    doc = yaml.safe_load(path.read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)]
    assert not errors, errors
    assert path.read_text().startswith("# yaml-language-server: $schema="), "editors find the schema"


def test_the_schema_refuses_what_the_loader_refuses():
    v = jsonschema.Draft202012Validator(SCHEMA)
    good = {"gateway": {"name": "g", "authorizerType": "NONE"}}
    assert v.is_valid(good)
    for bad in [
        {"gateway": {"name": "g", "authorizerType": "MAYBE"}},
        {"gateway": {"name": "g", "authorizerType": "NONE", "colour": "red"}},
        {**good, "targets": [{"name": "t", "targetConfiguration": {"mcp": {"openApiSchema": {"file": "x", "extra": 1}}}}]},
        {**good, "server": {"limits": {"maxRequestBodyBytes": "lots"}}},
        {**good, "targets": [{"name": "t", "targetConfiguration": {"mcp": {}},
                              "credentialProviderConfigurations": [{"credentialProviderType": "PASSWORD"}]}]},
    ]:
        assert not v.is_valid(bad), bad
