/** The team every deployment has: existing objects and keys belong to it, and its admins run the platform. */
export const DEFAULT_TEAM = "default";

/** A team's name: lower-case letters, digits and '-', starting with a letter, at most 63 long. */
export const TEAM_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
