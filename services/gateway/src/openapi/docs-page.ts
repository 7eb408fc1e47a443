import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

const esc = (text: unknown) =>
  String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

type Obj = { [key: string]: JsonValue | undefined };

function typeOf(schema: Obj | undefined): string {
  if (!schema) return "";
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.split("/").pop() ?? "";
    return `<a href="#${esc(name)}">${esc(name.split(".").pop())}</a>`;
  }
  if (schema.type === "array") return `${typeOf(schema.items as Obj)}[]`;
  if (Array.isArray(schema.enum)) return `enum (${schema.enum.map(esc).join(" | ")})`;
  if (
    schema.type === "object" &&
    schema.additionalProperties &&
    typeof schema.additionalProperties === "object"
  ) {
    return `map&lt;string, ${typeOf(schema.additionalProperties as Obj)}&gt;`;
  }
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
  return esc(schema.format ? `${type} (${schema.format})` : (type ?? "any"));
}

function operationHtml(path: string, method: string, op: Obj): string {
  const params = (op.parameters as Obj[] | undefined) ?? [];
  const body = ((op.requestBody as Obj | undefined)?.content as Obj | undefined)?.[
    "application/json"
  ] as Obj | undefined;
  const ok = ((op.responses as Obj)["200"] as Obj | undefined)?.content as Obj | undefined;
  const answer = ok ? (Object.values(ok)[0] as Obj | undefined) : undefined;
  const rows = params
    .map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${typeOf(p.schema as Obj)}</td><td>${esc((p.schema as Obj)?.description ?? p.description ?? "")}</td></tr>`,
    )
    .join("");
  return `<section class="op"><h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p>${esc(op.summary)}</p><p class="meta">scope: <b>${esc(op["x-berth-scope"] ?? "none")}</b>${op.operationId ? ` · <code>${esc(op.operationId)}</code>` : ""}</p>
${rows ? `<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>${rows}</table>` : ""}
${body ? `<p>Body: ${typeOf(body.schema as Obj)}</p>` : ""}${answer ? `<p>Answer: ${typeOf(answer.schema as Obj)}</p>` : ""}</section>`;
}

function schemaHtml(name: string, schema: Obj): string {
  const props = Object.entries((schema.properties as Obj | undefined) ?? {}) as Array<
    [string, Obj]
  >;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = props
    .map(
      ([field, s]) =>
        `<tr><td><code>${esc(field)}</code>${required.has(field) ? " *" : ""}${s.readOnly ? " (output)" : ""}</td><td>${typeOf(s)}</td><td>${esc(s.description ?? "")}</td></tr>`,
    )
    .join("");
  return `<section id="${esc(name)}" class="schema"><h3>${esc(name)}</h3><p>${esc(schema.description ?? "")}</p>${rows ? `<table>${rows}</table>` : ""}</section>`;
}

/** A self-contained HTML reference of an OpenAPI document: operations by tag, then schemas. */
export function renderDocsPage(doc: JsonObject): string {
  const info = doc.info as Obj;
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths as Obj)) {
    for (const [method, op] of Object.entries(item as Obj) as Array<[string, Obj]>) {
      const tag = ((op.tags as string[] | undefined) ?? ["Gateway"])[0] ?? "Gateway";
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationHtml(path, method, op)]);
    }
  }
  const schemas = Object.entries(((doc.components as Obj).schemas as Obj) ?? {}) as Array<
    [string, Obj]
  >;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{font-size:90%}.op,.schema{border-top:1px solid #ddd;padding:.5rem 0}.m{font-weight:bold;font-family:monospace}
.get{color:#06c}.post{color:#080}.patch{color:#a60}.delete{color:#c00}.meta{color:#666;font-size:90%}
table{border-collapse:collapse}td,th{text-align:left;padding:.1rem .6rem .1rem 0;vertical-align:top}</style></head><body>
<h1>${esc(info.title)}</h1><p>${esc(info.description)}</p><p><a href="/openapi.json">openapi.json</a></p>
${[...byTag].map(([tag, ops]) => `<h2>${esc(tag)}</h2>${ops.join("\n")}`).join("\n")}
<h2>Schemas</h2>${schemas.map(([name, s]) => schemaHtml(name, s)).join("\n")}</body></html>`;
}
