"""End to end: AWS-native targets against a real AWS emulator. moto (server mode, in this
process) serves S3, DynamoDB (Smithy model, awsJson1_0) and EventBridge Scheduler (Smithy
model, restJson1); a Lambda stand-in that checks every signature with botocore runs Python
handlers written for AgentCore. The gateway's targets are AgentCore `create_gateway_target`
requests, pasted; its documents come from moto's S3. The official MCP Python SDK drives it in
both eras.

Run from the repository root after `cargo build --bin mcp-gateway`.
"""

import asyncio
import json
import tempfile
from pathlib import Path

import boto3
import pytest
from mcp import Client
from moto.server import ThreadedMotoServer

from lambda_standin import HandledError, LambdaStandIn
from test_python_sdk import ENV, ROOT, TARGET, _start

AKID, SECRET = ENV["AWS_ACCESS_KEY_ID"], ENV["AWS_SECRET_ACCESS_KEY"]
WEATHER = "arn:aws:lambda:eu-west-1:123456789012:function:weather"
MODELS = ROOT / "tests" / "fixtures" / "smithy"

WEATHER_TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city",
        "inputSchema": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "a city"},
                "days": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["city"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
        },
    },
    {
        "name": "explode",
        "description": "Always fails",
        "inputSchema": {"type": "object", "properties": {"how": {"type": "string"}}},
    },
]


def weather(event, context):
    """A Lambda handler as AgentCore's docs write them: the tool comes from the client context."""
    tool = context.client_context.custom["bedrockAgentCoreToolName"]
    name = tool.split("___", 1)[1]
    if name == "get_weather":
        return {"city": event["city"], "temp": 21.5, "days": event.get("days", [])}
    if name == "explode":
        if event.get("how") == "handled":
            raise HandledError("handled on purpose")
        raise ValueError(f"boom: {event.get('how')}")
    if name == "echo_context":
        return context.client_context.custom
    raise KeyError(name)


@pytest.fixture(scope="module")
def aws():
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    lam = LambdaStandIn((AKID, SECRET))
    lam.register(WEATHER, weather)
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=AKID, aws_secret_access_key=SECRET,
    )
    s3.create_bucket(Bucket="agent-schemas")
    s3.put_object(
        Bucket="agent-schemas", Key="smithy/scheduler model.json",
        Body=(MODELS / "scheduler-2021-06-30.json").read_bytes(),
    )
    s3.put_object(
        Bucket="agent-schemas", Key="lambda/tools.json",
        Body=json.dumps([{
            "name": "echo_context",
            "description": "Returns the client context the function saw",
            "inputSchema": {"type": "object", "properties": {}},
        }]),
    )
    echo_doc = {
        "openapi": "3.0.3",
        "info": {"title": "echo", "version": "1"},
        "servers": [{"url": lam.url}],
        "paths": {"/echo": {"get": {
            "operationId": "echo",
            "parameters": [{"name": "say", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the query, echoed"}},
        }}},
    }
    s3.put_object(Bucket="agent-schemas", Key="openapi/echo.json", Body=json.dumps(echo_doc))
    swagger = {
        "swagger": "2.0",
        "info": {"title": "echo", "version": "1"},
        "host": lam.url.removeprefix("http://"),
        "schemes": ["http"],
        "paths": {"/echo": {"get": {
            "operationId": "echo",
            "parameters": [
                {"name": "say", "in": "query", "type": "string", "required": True},
                {"name": "tag", "in": "query", "type": "array", "items": {"type": "string"},
                 "collectionFormat": "multi"},
            ],
            "responses": {"200": {"description": "the query, echoed"}},
        }}},
    }
    s3.put_object(Bucket="agent-schemas", Key="openapi/swagger.json", Body=json.dumps(swagger))
    s3.put_object(
        Bucket="agent-schemas", Key="mcp/tools.json",
        Body=json.dumps({"tools": [{"name": "lookup", "description": "Looks things up",
                                     "inputSchema": {"type": "object"}}]}),
    )
    yield {"endpoint": endpoint, "lambda": lam}
    lam.close()
    moto.stop()


def _config(tmp: Path, extra: str = "") -> Path:
    config = f"""
gateway:
  name: aws-native
  authorizerType: NONE
  region: us-east-1
  protocolConfiguration: {{mcp: {{supportedVersions: ["2025-06-18", "2025-11-25", "2026-07-28"]}}}}
targets:
  - name: weather
    targetConfiguration:
      mcp:
        lambda:
          lambdaArn: {WEATHER}
          toolSchema:
            inlinePayload: {json.dumps(WEATHER_TOOLS)}
    credentialProviderConfigurations: [{{credentialProviderType: GATEWAY_IAM_ROLE}}]
  - name: context
    targetConfiguration:
      mcp:
        lambda:
          lambdaArn: {WEATHER}
          toolSchema: {{s3: {{uri: "s3://agent-schemas/lambda/tools.json", bucketOwnerAccountId: "123456789012"}}}}
    credentialProviderConfigurations: [{{credentialProviderType: GATEWAY_IAM_ROLE}}]
  - name: sched
    targetConfiguration:
      mcp:
        smithyModel: {{s3: {{uri: "s3://agent-schemas/smithy/scheduler model.json"}}}}
    credentialProviderConfigurations: [{{credentialProviderType: GATEWAY_IAM_ROLE}}]
  - name: ddb
    targetConfiguration:
      mcp:
        smithyModel: {{file: {MODELS / "dynamodb-2012-08-10.json"}}}
    credentialProviderConfigurations: [{{credentialProviderType: GATEWAY_IAM_ROLE}}]
  - name: echo
    targetConfiguration:
      mcp:
        openApiSchema: {{s3: {{uri: "s3://agent-schemas/openapi/echo.json"}}}}
  - name: swagger
    targetConfiguration:
      mcp:
        openApiSchema: {{s3: {{uri: "s3://agent-schemas/openapi/swagger.json"}}}}
  - name: ghost
    targetConfiguration:
      mcp:
        lambda:
          lambdaArn: arn:aws:lambda:eu-west-1:123456789012:function:deleted-last-week
          toolSchema: {{inlinePayload: [{{name: haunt, description: Nobody home, inputSchema: {{type: object}}}}]}}
  - name: fixed
    targetConfiguration:
      mcp:
        mcpServer:
          endpoint: http://127.0.0.1:9/mcp
          mcpToolSchema: {{s3: {{uri: "s3://agent-schemas/mcp/tools.json"}}}}
{extra}"""
    path = tmp / "gateway.yaml"
    path.write_text(config)
    return path


def _env(aws):
    return {
        **ENV,
        "AWS_ENDPOINT_URL": aws["endpoint"],
        "AWS_ENDPOINT_URL_LAMBDA": aws["lambda"].url,
        "AWS_REGION": "us-east-1",
    }


@pytest.fixture(scope="module")
def gateway(aws):
    tmp = Path(tempfile.mkdtemp(prefix="mcp-gw-aws-"))
    proc, m = _start(
        [str(TARGET / "mcp-gateway"), "serve", "--config", str(_config(tmp)), "--listen", "127.0.0.1:0"],
        _env(aws),
        r"listening on (http://\S+/mcp)",
    )
    yield m.group(1)
    proc.terminate()
    proc.wait(timeout=10)


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_every_kind_is_listed(gateway, mode):
    async def go():
        async with Client(gateway, mode=mode) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            for name in [
                "weather___get_weather", "weather___explode", "context___echo_context",
                "sched___CreateScheduleGroup", "sched___GetScheduleGroup", "sched___ListScheduleGroups",
                "ddb___CreateTable", "ddb___PutItem", "ddb___GetItem", "ddb___ListTables", "echo___echo",
                "swagger___echo", "fixed___lookup",
            ]:
                assert name in tools, name
            get_weather = tools["weather___get_weather"]
            assert get_weather.output_schema["properties"]["temp"] == {"type": "number"}
            put = tools["ddb___PutItem"].input_schema
            assert put["required"] == ["TableName", "Item"]
            assert put["properties"]["Item"]["additionalProperties"]["$ref"] == "#/$defs/AttributeValue"
            assert "Creates the specified schedule group." in tools["sched___CreateScheduleGroup"].description
            assert tools["ddb___GetItem"].annotations is None or not tools["ddb___GetItem"].annotations.destructive_hint
    run(go())


def test_lambda_calls_carry_agentcore_context_and_botocore_verifies_them(gateway, aws):
    lam = aws["lambda"]
    lam.seen.clear()

    async def go():
        async with Client(gateway, mode="legacy") as client:
            r = await client.call_tool("weather___get_weather", {"city": "Lisbon", "days": [1, 2]})
            assert not r.is_error, r.content[0].text
            assert json.loads(r.content[0].text) == {"city": "Lisbon", "temp": 21.5, "days": [1, 2]}
            assert r.structured_content == {"city": "Lisbon", "temp": 21.5, "days": [1, 2]}
            r = await client.call_tool("context___echo_context", {})
            assert not r.is_error, r.content[0].text
            assert r.structured_content is None, "no outputSchema, no structuredContent"
            return json.loads(r.content[0].text)

    custom = run(go())
    assert [s["signature"] for s in lam.seen] == ["ok", "ok"], lam.seen
    first = lam.seen[0]
    # The event is the arguments object itself; the region is the ARN's (eu-west-1), not the
    # gateway's (us-east-1), and botocore agreed with the signature.
    assert first["event"] == {"city": "Lisbon", "days": [1, 2]}
    assert first["headers"]["x-amz-invocation-type"] == "RequestResponse"
    assert "/eu-west-1/lambda/aws4_request" in first["headers"]["authorization"]
    assert first["custom"]["bedrockAgentCoreToolName"] == "weather___get_weather"
    assert custom["bedrockAgentCoreToolName"] == "context___echo_context"
    assert custom["bedrockAgentCoreMessageVersion"] == "1.0"
    assert custom["bedrockAgentCoreGatewayId"] == "aws-native"
    assert custom["bedrockAgentCoreTargetId"] == "context"
    assert custom["bedrockAgentCoreMcpMessageId"] != ""
    assert len(custom["bedrockAgentCoreAwsRequestId"]) == 36
    assert first["custom"]["bedrockAgentCoreAwsRequestId"] != custom["bedrockAgentCoreAwsRequestId"]


def test_lambda_failures_are_results_the_model_can_read(gateway, aws):
    lam = aws["lambda"]

    async def go():
        async with Client(gateway, mode="auto") as client:
            r = await client.call_tool("weather___explode", {"how": "badly"})
            assert r.is_error
            assert "Unhandled" in r.content[0].text and "ValueError: boom: badly" in r.content[0].text
            assert "Traceback" not in r.content[0].text and "stackTrace" not in r.content[0].text
            r = await client.call_tool("weather___explode", {"how": "handled"})
            assert r.is_error and "(Handled): HandledError: handled on purpose" in r.content[0].text
            r = await client.call_tool("weather___get_weather", {"city": 3})
            assert r.is_error and "city" in r.content[0].text, "checked against the schema first"
            r = await client.call_tool("ghost___haunt", {})
            assert r.is_error and "ResourceNotFoundException" in r.content[0].text, r.content[0].text
            assert "deleted-last-week" in r.content[0].text
            lam.throttle = True
            try:
                r = await client.call_tool("weather___get_weather", {"city": "Oslo"})
            finally:
                lam.throttle = False
            assert r.is_error
            text = r.content[0].text
            assert "TooManyRequestsException" in text and "retried" in text, text

    run(go())


def test_smithy_rest_json_scheduler_create_read_list_error(gateway):
    async def go():
        async with Client(gateway, mode="legacy") as client:
            r = await client.call_tool(
                "sched___CreateScheduleGroup", {"Name": "agents", "Tags": [{"Key": "team", "Value": "ml"}]}
            )
            assert not r.is_error, r.content[0].text
            assert r.structured_content["ScheduleGroupArn"].endswith(":schedule-group/agents")
            r = await client.call_tool("sched___GetScheduleGroup", {"Name": "agents"})
            assert not r.is_error, r.content[0].text
            assert r.structured_content["Name"] == "agents"
            assert r.structured_content["State"] == "ACTIVE"
            await client.call_tool("sched___CreateScheduleGroup", {"Name": "other"})
            r = await client.call_tool("sched___ListScheduleGroups", {"NamePrefix": "ag"})
            assert not r.is_error, r.content[0].text
            names = [g["Name"] for g in r.structured_content["ScheduleGroups"]]
            assert "agents" in names and "other" not in names, names
            r = await client.call_tool("sched___GetScheduleGroup", {"Name": "nope"})
            assert r.is_error
            assert "ResourceNotFoundException" in r.content[0].text, r.content[0].text
            r = await client.call_tool("sched___GetScheduleGroup", {})
            assert r.is_error and "Name" in r.content[0].text

    run(go())


def test_smithy_aws_json_dynamodb_create_read_list_error(gateway):
    item = {"id": {"S": "a1"}, "tags": {"L": [{"S": "x"}, {"N": "2"}]}, "meta": {"M": {"ok": {"BOOL": True}}}}

    async def go():
        async with Client(gateway, mode="auto") as client:
            r = await client.call_tool("ddb___CreateTable", {
                "TableName": "agents",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            })
            assert not r.is_error, r.content[0].text
            assert r.structured_content["TableDescription"]["TableName"] == "agents"
            r = await client.call_tool("ddb___DescribeTable", {"TableName": "agents"})
            assert r.structured_content["Table"]["KeySchema"][0]["AttributeName"] == "id"
            r = await client.call_tool("ddb___ListTables", {})
            assert "agents" in r.structured_content["TableNames"]
            r = await client.call_tool("ddb___PutItem", {"TableName": "agents", "Item": item})
            assert not r.is_error, r.content[0].text
            r = await client.call_tool("ddb___GetItem", {"TableName": "agents", "Key": {"id": {"S": "a1"}}})
            assert r.structured_content["Item"] == item
            r = await client.call_tool("ddb___DescribeTable", {"TableName": "missing"})
            assert r.is_error and "ResourceNotFoundException" in r.content[0].text, r.content[0].text
            r = await client.call_tool("ddb___CreateTable", {"TableName": "x", "BillingMode": "SOMETIMES"})
            assert r.is_error and "BillingMode" in r.content[0].text, "the enum is in the schema"

    run(go())


def test_openapi_and_swagger_documents_from_s3(gateway):
    async def go():
        async with Client(gateway, mode="legacy") as client:
            r = await client.call_tool("echo___echo", {"say": "hi there"})
            assert not r.is_error, r.content[0].text
            assert r.structured_content == {"query": {"say": ["hi there"]}}
            # A Swagger 2.0 document: `collectionFormat: multi` repeats the parameter.
            r = await client.call_tool("swagger___echo", {"say": "a", "tag": ["x", "y z"]})
            assert not r.is_error, r.content[0].text
            assert r.structured_content == {"query": {"say": ["a"], "tag": ["x", "y z"]}}
            r = await client.call_tool("swagger___echo", {"tag": ["x"]})
            assert r.is_error and "say" in r.content[0].text

    run(go())


def test_s3_reads_are_signed_as_botocore_signs_them(aws):
    """moto does not check signatures; this S3 stand-in checks them with botocore's S3 signer
    (one encoding pass, no normalisation, the payload hash in a header) on an awkward key."""
    import subprocess
    lam = aws["lambda"]
    key = "docs/echo api (v1)+ü.json"
    doc = {"openapi": "3.0.3", "info": {"title": "e", "version": "1"}, "servers": [{"url": lam.url}],
           "paths": {"/echo": {"get": {"operationId": "echo", "responses": {"200": {"description": "ok"}}}}}}
    lam.objects[("signed-bucket", key)] = json.dumps(doc).encode()
    tmp = Path(tempfile.mkdtemp(prefix="mcp-gw-s3-"))
    (tmp / "gateway.yaml").write_text(
        "gateway: {name: s3, authorizerType: NONE, region: us-east-1}\n"
        "targets:\n"
        "  - name: doc\n"
        "    targetConfiguration: {mcp: {openApiSchema: {s3: {uri: \"s3://signed-bucket/" + key + "\", "
        "bucketOwnerAccountId: \"111122223333\"}}}}\n"
    )
    lam.seen.clear()
    out = subprocess.run(
        [str(TARGET / "mcp-gateway"), "validate", "--config", str(tmp / "gateway.yaml")],
        env={**_env(aws), "AWS_ENDPOINT_URL_S3": lam.url}, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    [read] = lam.seen
    assert (read["bucket"], read["key"]) == ("signed-bucket", key)
    assert read["signature"] == "ok", read
    assert read["headers"]["x-amz-expected-bucket-owner"] == "111122223333"
    assert "doc___echo" in out.stdout


def test_a_missing_s3_document_stops_the_start_with_its_path(aws):
    tmp = Path(tempfile.mkdtemp(prefix="mcp-gw-aws-bad-"))
    extra = """  - name: gone
    targetConfiguration:
      mcp:
        openApiSchema: {s3: {uri: "s3://agent-schemas/openapi/nothing-here.json"}}
"""
    import subprocess
    out = subprocess.run(
        [str(TARGET / "mcp-gateway"), "validate", "--config", str(_config(tmp, extra))],
        env=_env(aws), capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "targets[8].targetConfiguration.mcp.openApiSchema.s3" in out.stderr, out.stderr
    assert "NoSuchKey" in out.stderr, out.stderr


STRANDS = ROOT / ".venv-strands" / "bin" / "python"


@pytest.mark.skipif(not STRANDS.exists(), reason="tests/run.sh makes .venv-strands")
def test_strands_agents_calls_lambda_smithy_and_openapi_tools(gateway):
    import subprocess
    calls = [
        "weather___get_weather", json.dumps({"city": "Porto"}),
        "ddb___ListTables", "{}",
        "sched___GetScheduleGroup", json.dumps({"Name": "default"}),
        "echo___echo", json.dumps({"say": "strands"}),
        "weather___explode", json.dumps({"how": "on purpose"}),
    ]
    out = subprocess.run(
        [str(STRANDS), str(ROOT / "tests" / "e2e" / "strands_client.py"), gateway, *calls],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    for name in ["weather___get_weather", "ddb___PutItem", "sched___CreateSchedule", "echo___echo"]:
        assert name in seen["tools"], name
    weather, tables, group, echo, explode = seen["results"]
    assert weather["status"] == "success" and json.loads(weather["text"][0])["city"] == "Porto"
    assert tables["status"] == "success" and "TableNames" in tables["text"][0]
    assert group["status"] == "success" and '"default"' in group["text"][0], group
    assert echo["status"] == "success" and "strands" in echo["text"][0]
    assert explode["status"] == "error" and "boom: on purpose" in explode["text"][0]
