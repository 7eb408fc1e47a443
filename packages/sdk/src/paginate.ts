/** A list method of a Berth service: takes a page token, answers one page and the next token. */
export type ListMethod<Req, Res> = (
  request: Req & { pageToken?: string },
) => Promise<Res & { nextPageToken: string }>;

/**
 * Iterates every item of a paged list, fetching pages as it goes:
 * `for await (const s of paginate(berth.registry.listServers, {}, (r) => r.servers))`.
 * maxPages bounds the walk (a server that never ends a listing cannot loop us forever).
 */
export async function* paginate<Req extends object, Res, Item>(
  list: ListMethod<Req, Res>,
  request: Req,
  items: (response: Res) => Item[],
  maxPages = 100_000,
): AsyncGenerator<Item> {
  let pageToken = "";
  for (let page = 0; page < maxPages; page++) {
    const response = await list({ ...request, pageToken });
    yield* items(response);
    pageToken = response.nextPageToken;
    if (!pageToken) return;
  }
  throw new Error(`listing did not end after ${maxPages} pages`);
}
