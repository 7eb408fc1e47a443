import { createHash } from "node:crypto";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/**
 * Some components render a constant <style> element (Radix's Select and ScrollArea viewports
 * hide their scrollbars that way). The gateway's Content-Security-Policy allows exactly those
 * styles by hash: this lists the hashes of every constant inline style in the bundle in
 * dist/csp-hashes.json, so they follow the libraries' versions without anyone copying them.
 */
function cspStyleHashes(): Plugin {
  return {
    name: "berth-csp-style-hashes",
    generateBundle(_options, bundle) {
      const hashes = new Set<string>();
      for (const output of Object.values(bundle)) {
        if (output.type !== "chunk") continue;
        for (const match of output.code.matchAll(/__html:\s*(?:`([^`$\\]*)`|"([^"\\]*)")/g)) {
          const css = match[1] ?? match[2] ?? "";
          hashes.add(`sha256-${createHash("sha256").update(css).digest("base64")}`);
        }
      }
      this.emitFile({
        type: "asset",
        fileName: "csp-hashes.json",
        source: `${JSON.stringify({ style: [...hashes].sort() }, null, 2)}\n`,
      });
    },
  };
}

// The console, bundled at build time: the gateway serves dist/ at /ui with a strict
// Content-Security-Policy, so nothing is loaded from elsewhere at run time and nothing inline
// runs (no inline scripts; inline styles only by hash or by the page's nonce).
export default defineConfig({
  base: "/ui/",
  plugins: [react(), cspStyleHashes()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { index: "index.html", docs: "docs.html" },
    },
  },
});
