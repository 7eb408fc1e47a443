import { readFileSync } from "node:fs";
import type { JsonObject } from "@bufbuild/protobuf";
import type { HttpRequest, HttpResponse } from "../http/types.js";

/** The committed document (scripts/generate-openapi.ts writes it at build time). */
export function loadOpenApi(): JsonObject {
  return JSON.parse(
    readFileSync(new URL("../../openapi.json", import.meta.url), "utf8"),
  ) as JsonObject;
}

/**
 * GET /openapi.json, open to everyone. The page that renders it (/docs) is Swagger UI in the
 * console's build (console/console-routes.ts).
 */
export function createOpenApiRoutes(
  doc: JsonObject,
): (req: HttpRequest, res: HttpResponse) => void {
  const json = JSON.stringify(doc);
  return (_req, res) => {
    res.statusCode = 200;
    res.setHeader("content-type", "application/json");
    res.end(json);
  };
}
