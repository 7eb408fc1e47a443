/** True when a NATS subject matches a filter with `*` (one token) and `>` (the rest) wildcards. */
export function subjectMatches(filter: string, subject: string): boolean {
  const wanted = filter.split(".");
  const actual = subject.split(".");
  for (let i = 0; i < wanted.length; i++) {
    const token = wanted[i];
    if (token === ">") return actual.length > i;
    if (i >= actual.length) return false;
    if (token !== "*" && token !== actual[i]) return false;
  }
  return wanted.length === actual.length;
}
