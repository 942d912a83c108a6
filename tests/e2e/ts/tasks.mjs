// The TypeScript SDK client runs a tool as a task (2025-11-25 tasks) through the gateway at
// the reference server: the task is created, polled and its result fetched under an id of
// the gateway's own; a second task is cancelled; a third asks the user mid-way (elicitation on
// the task's result stream); a made-up task id is refused.
// Prints what it saw as JSON. Usage: node tasks.mjs GATEWAY_URL
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateTaskResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const url = new URL(process.argv[2]);
const client = new Client({ name: "e2e-ts-tasks", version: "1.0.0" }, { capabilities: { elicitation: {} } });
const asked = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  asked.push(request.params.message);
  return { action: "accept", content: { interpretation: "programming" } };
});
await client.connect(new StreamableHTTPClientTransport(url));
const tools = (await client.listTools()).tools;
const research = tools.find((t) => t.name === "everything___simulate-research-query");
const out = { capabilities: client.getServerCapabilities(), execution: research?.execution, messages: [] };

const stream = client.experimental.tasks.callToolStream(
  { name: "everything___simulate-research-query", arguments: { topic: "tides" } },
  undefined,
  { task: { ttl: 60000 } },
);
for await (const message of stream) {
  if (message.type === "taskCreated") out.created = message.task;
  if (message.type === "taskStatus") out.messages.push(message.task.status);
  if (message.type === "result") out.result = message.result;
  if (message.type === "error") out.error = String(message.error);
}
out.after = await client.experimental.tasks.getTask(out.created.taskId);

// A second task, cancelled while it runs.
const second = await client.request(
  { method: "tools/call", params: { name: "everything___simulate-research-query", arguments: { topic: "reefs" }, task: { ttl: 60000 } } },
  CreateTaskResultSchema,
);
out.second = second.task;
out.cancelled = await client.experimental.tasks.cancelTask(second.task.taskId);

// A task that asks the user mid-way: the question comes on the task's result stream.
const ambiguous = client.experimental.tasks.callToolStream(
  { name: "everything___simulate-research-query", arguments: { topic: "python", ambiguous: true } },
  undefined,
  { task: { ttl: 60000 } },
);
for await (const message of ambiguous) {
  if (message.type === "result") out.clarified = message.result;
  if (message.type === "error") out.clarifiedError = String(message.error);
}
out.asked = asked;

try {
  await client.experimental.tasks.getTask("made-up-task-id");
  out.forged = "accepted";
} catch (e) {
  out.forged = String(e);
}
await client.close();
console.log(JSON.stringify(out));
