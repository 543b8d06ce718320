// What the browser scripts share: the tools cli/tests/suite/web.rs installed (NODE_MODULES, CHROMIUM),
// the server (BASE_URL), where screenshots go (SHOTS), Debian's chromium launched headless, and
// axe-core run inside a page.

import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";

const require = createRequire(`${process.env.NODE_MODULES}/`);
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const base = process.env.BASE_URL;
export const shots = process.env.SHOTS;
mkdirSync(shots, { recursive: true });

export const step = (text) => console.log(`- ${text}`);

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** axe-core's violations on the page as it stands, and the serious or critical ones among them.
 * Evaluated through the DevTools protocol: the page's own policy allows no inline script. */
export async function axe(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => ["serious", "critical"].includes(v.impact));
  return { violations: result.violations, serious };
}
