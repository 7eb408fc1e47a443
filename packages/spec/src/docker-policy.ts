/**
 * What an admin allows a docker instance to run. By default an instance runs exactly the image
 * its catalog entry names, as a non-root user; BERTH_ALLOWED_IMAGES (comma-separated patterns,
 * `*` matching any run of characters, e.g. `ghcr.io/acme/*,berth/echo:*`) allows other images
 * and BERTH_ALLOW_ROOT_USER=true allows `user` 0/root.
 */
export interface DockerPolicy {
  allowedImages: readonly string[];
  allowRootUser: boolean;
}

/** The patterns of a BERTH_ALLOWED_IMAGES value (empty entries dropped). */
export function parseImagePatterns(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== "");
}

function patternRegex(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
  return new RegExp(`^${escaped}$`);
}

/** Whether an image may run: the catalog entry's own, or one the admin's patterns allow. */
export function isImageAllowed(
  image: string,
  catalogImage: string | undefined,
  policy: Pick<DockerPolicy, "allowedImages">,
): boolean {
  if (catalogImage && image === catalogImage) return true;
  return policy.allowedImages.some((pattern) => patternRegex(pattern).test(image));
}

/** Whether a `user` value runs the container as root (uid 0 or the name root). */
export function isRootUser(user: string): boolean {
  const name = user.split(":")[0]!.trim().toLowerCase();
  return name === "root" || /^0+$/.test(name);
}
