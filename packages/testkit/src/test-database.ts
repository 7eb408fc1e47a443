import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestDatabase } from "./types.js";

/** Creates an empty database with a unique name on the server behind adminUrl. */
export async function createTestDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `berth_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      // WITH (FORCE) cuts sessions a test forgot to close instead of failing the drop.
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** Runs one statement on a short-lived connection. */
async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
