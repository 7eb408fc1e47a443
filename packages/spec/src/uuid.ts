/** A UUID in its canonical text form, as every Berth id (instance, server, event, key) is. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string is a UUID (any version, either case). */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
