import { readFileSync } from "node:fs";
import type { JsonObject } from "@bufbuild/protobuf";
import type { HttpRequest, HttpResponse } from "../http/types.js";
import { renderDocsPage } from "./docs-page.js";

/** The committed document (scripts/generate-openapi.ts writes it at build time). */
export function loadOpenApi(): JsonObject {
  return JSON.parse(
    readFileSync(new URL("../../openapi.json", import.meta.url), "utf8"),
  ) as JsonObject;
}

/** GET /openapi.json and GET /docs, open to everyone. */
export function createOpenApiRoutes(
  doc: JsonObject,
): (req: HttpRequest, res: HttpResponse) => void {
  const json = JSON.stringify(doc);
  const html = renderDocsPage(doc);
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    res.statusCode = 200;
    res.setHeader(
      "content-type",
      path === "/docs" ? "text/html; charset=utf-8" : "application/json",
    );
    if (path === "/docs")
      res.setHeader("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'");
    res.end(path === "/docs" ? html : json);
  };
}
