// Preloaded into the reference server (`node --import ./loopback.mjs`): a server that listens
// on a bare port listens on 127.0.0.1 only, as the gateway's tests require of every server.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" || typeof args[0] === "string") {
    const [port, ...rest] = args;
    if (typeof rest[0] !== "string") {
      return listen.call(this, Number(port), "127.0.0.1", ...rest);
    }
  }
  return listen.apply(this, args);
};
