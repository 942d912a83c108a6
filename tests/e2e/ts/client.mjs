// The official TypeScript SDK client against the gateway: `node client.mjs <gateway /mcp url>`.
// Lists the tools and calls those of the reference server behind the gateway, then prints
// what it saw as one JSON object on stdout for the Python test to check.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

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
  heard,
};
await client.close();
console.log(JSON.stringify(out));
