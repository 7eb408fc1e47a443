/**
 * Length limits of every json_spec and instance field, checked at validation so that nothing
 * accepted can fail to fit a column later. The columns they protect:
 * - runtime `workloads.endpoint` varchar(2048): a url endpoint (≤ 2048), or for a docker http
 *   server `http://127.0.0.1:<port>` + path (path ≤ 1024);
 * - runtime `workloads.name` varchar(255), instances `name` varchar(255): names are DNS labels (≤ 63);
 * - instances `endpoint` varchar(1024): `/mcp/<name>`;
 * - runtime `workloads.driver` varchar(32), instances `spec_type` varchar(16): `docker` or `url`;
 * - instances `instance_secrets.name` varchar(255): secret names are variable names (≤ 255).
 * The rest (jsonb, text) has no column limit; their limits keep one request's size sane.
 */
export const LIMITS = {
  name: 63,
  description: 2000,
  endpoint: 2048,
  image: 1024,
  path: 1024,
  user: 64,
  argvItems: 256,
  argvItem: 4096,
  envVars: 256,
  envName: 255,
  envValue: 32_768,
  headers: 64,
  headerName: 128,
  headerValue: 8192,
  secretValue: 65_536,
  /** The whole json_spec, as JSON text. */
  specBytes: 262_144,
} as const;
