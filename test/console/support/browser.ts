import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

/** The distribution's Chromium (apt `chromium`; bootstrap.sh installs it for `npm test`). */
export const CHROMIUM = process.env.BERTH_CHROMIUM ?? "/usr/bin/chromium";

/** Where screenshots go (gitignored; CI keeps them as artifacts). */
export const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));

/**
 * Launches headless Chromium. A missing browser is an error, never a skip: CI without it must
 * fail instead of passing the console untested.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  });
}

const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  "utf8",
);

/** One accessibility problem axe found. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core in the page (evaluated through the DevTools protocol, so the page's strict
 * Content-Security-Policy stays on) and returns its serious and critical violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: () => Promise<unknown> } }).axe;
    const result = (await axe.run()) as {
      violations: Array<{
        id: string;
        impact: string | null;
        help: string;
        nodes: Array<{ target: unknown[]; html: string; failureSummary?: string }>;
      }>;
    };
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => `${n.target.join(" ")}: ${n.html} (${n.failureSummary ?? ""})`),
    }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}
