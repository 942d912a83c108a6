// The official TypeScript SDK client against the gateway: `node client.mjs <gateway /mcp url>`.
// Lists the tools and calls those of the reference server behind the gateway, uses its
// prompts, resources, templates and completions, then prints what it saw as one JSON object
// on stdout for the Python test to check.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const url = new URL(process.argv[2]);
const client = new Client({ name: "e2e-ts", version: "1.0.0" });
const heard = [];
await client.connect(new StreamableHTTPClientTransport(url));
const tools = (await client.listTools()).tools.map((t) => t.name);
const call = (name, args) => client.callTool({ name, arguments: args });
const out = {
  version: client.transport.protocolVersion ?? null,
  tools,
  echo: await call("everything___echo", { message: "hello from TS" }),
  sum: await call("everything___get-sum", { a: 2, b: 40 }),
  image: await call("everything___get-tiny-image", {}),
  structured: await call("everything___get-structured-content", { location: "Chicago" }),
  links: await call("everything___get-resource-links", { count: 2 }),
  capabilities: client.getServerCapabilities(),
  prompts: (await client.listPrompts()).prompts.map((p) => p.name),
  prompt: await client.getPrompt({ name: "everything___args-prompt", arguments: { city: "Oslo" } }),
  promptCompletion: await client.complete({
    ref: { type: "ref/prompt", name: "everything___completable-prompt" },
    argument: { name: "department", value: "Eng" },
  }),
  resources: (await client.listResources()).resources.map((r) => r.uri),
  templates: (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate),
  dynamic: await client.readResource({ uri: "demo://resource/dynamic/text/7" }),
  templateCompletion: await client.complete({
    ref: { type: "ref/resource", uri: "demo://resource/dynamic/text/{resourceId}" },
    argument: { name: "resourceId", value: "12" },
  }),
  heard,
};
out.firstResource = out.resources.length ? await client.readResource({ uri: out.resources[0] }) : null;
// A resource subscription: the reference server sends updates for it on the client's own
// session, which the gateway reads for this client and relays on its GET stream.
const updated = [];
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updated.push(n.params.uri));
const watched = "demo://resource/static/document/architecture.md";
await client.subscribeResource({ uri: watched });
await call("everything___toggle-subscriber-updates", {});
for (let i = 0; i < 80 && updated.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
out.updated = updated;
await client.close();
console.log(JSON.stringify(out));
