import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
const conf = readFileSync(process.argv[2], "utf8");
const port = /listen: "127.0.0.1:(\d+)"/.exec(conf)![1];
const pass = /user: "admin", password: "([^"]+)"/.exec(conf)![1];
const nc = await connect({ servers: `127.0.0.1:${port}`, user: "admin", pass });
const jsm = await jetstreamManager(nc);
for await (const s of jsm.streams.list()) {
  console.log("stream", s.config.name, s.state.messages, s.state.last_seq);
  for await (const c of jsm.consumers.list(s.config.name)) {
    const { name, delivered, ack_floor, num_ack_pending, num_redelivered, num_pending, num_waiting } = c;
    console.log("  ", name, JSON.stringify({ delivered, ack_floor, num_ack_pending, num_redelivered, num_pending, num_waiting }));
  }
}
await nc.close();
