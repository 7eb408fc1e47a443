// autocannon is a bench-only dependency (bench/node_modules): loaded at run time, typed here with
// the part the bench uses, so that the root type check does not need it installed.

/** One request in autocannon's request list. */
export interface AutocannonRequest {
  method: string;
  path: string;
  body?: string;
  /** Rewrites the request before each send (a unique name per POST). */
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}

/** The options the bench passes. */
export interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  requests: AutocannonRequest[];
}

/** The part of autocannon's result the bench reads. */
export interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
  latency: { p50: number; p99: number; max: number };
}

type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult>;

/** Runs autocannon with the options; resolves with its result. */
export async function runAutocannon(options: AutocannonOptions): Promise<AutocannonResult> {
  const specifier = "autocannon";
  const module = (await import(specifier)) as { default: Autocannon };
  return module.default(options);
}
