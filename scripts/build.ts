// npm run build: the services and the packages they import compiled to dist/ (ESM), as npm start
// runs them. A no-op for what is up to date; npm start calls the same step itself.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildServices } from "./start/build.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
try {
  await buildServices(root);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
