// A runnable tour of the SDK against a running Berth (npm start):
//   BERTH_URL=http://127.0.0.1:8080 BERTH_API_KEY=berth_… npx tsx packages/sdk/examples/quickstart.ts
import { BerthError, createBerthClient, paginate, Transport } from "@berth/sdk";

const berth = createBerthClient({
  baseUrl: process.env.BERTH_URL ?? "http://127.0.0.1:8080",
  ...(process.env.BERTH_API_KEY ? { apiKey: process.env.BERTH_API_KEY } : {}),
});

// Add a catalog entry (or find the one a previous run added).
const name = "sdk-quickstart";
const server = await berth.registry
  .createServer({
    server: {
      name,
      title: "SDK quickstart",
      transport: Transport.STDIO,
      image: "berth/mcp-everything:stdio",
    },
  })
  .then((r) => r.server)
  .catch(async (error: unknown) => {
    if (error instanceof BerthError && error.code === "ALREADY_EXISTS") {
      return (await berth.registry.getServer({ id: name })).server;
    }
    throw error;
  });
console.log(`server ${server?.name} has id ${server?.id}`);

// Walk the whole catalog, page by page.
let count = 0;
for await (const entry of paginate(
  berth.registry.listServers,
  { pageSize: 20 },
  (r) => r.servers,
)) {
  count++;
  if (count <= 5) console.log(`- ${entry.name}: ${entry.title}`);
}
console.log(`${count} catalog entries in all`);

// Errors carry the code and the field that was wrong.
try {
  await berth.registry.createServer({ server: { name: "Not A Valid Name!" } });
} catch (error) {
  if (!(error instanceof BerthError)) throw error;
  console.log(
    `refused as expected: ${error.code} ${error.fieldViolations.map((v) => v.field).join(", ")}`,
  );
}
