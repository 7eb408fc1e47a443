import { useEffect, useState } from "react";

/** Where the console is: the hash after `#/`, split on "/" (`#/instances/abc` → instances, abc). */
export interface Route {
  readonly page: string;
  readonly params: readonly string[];
}

function parse(hash: string): Route {
  const [page = "", ...params] = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return { page, params };
}

/** The current route; hash routing keeps every page at /ui, so reloads need no server routes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parse(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function href(page: string, ...params: string[]): string {
  return `#/${[page, ...params].map(encodeURIComponent).join("/")}`;
}

export function navigate(page: string, ...params: string[]): void {
  window.location.hash = href(page, ...params);
}
