/** A REST answer: HTTP status and parsed JSON body. */
export interface RestAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
  body: any;
}

/** Calls the gateway as curl would: JSON in, JSON out, with an API key. */
export function restClient(baseUrl: string, apiKey: string) {
  return async (method: string, path: string, body?: unknown): Promise<RestAnswer> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}

/** The fields named by a REST error's google.rpc.BadRequest details. */
export function violatedFields(answer: RestAnswer): string[] {
  const details: Array<{ fieldViolations?: Array<{ field: string }> }> =
    answer.body?.error?.details ?? [];
  return details.flatMap((d) => d.fieldViolations ?? []).map((v) => v.field);
}
