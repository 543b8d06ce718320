// The lead list, opened cold in Debian's chromium: prints the figures as JSON for
// bench/src/web.rs. BASE_URL, CHROMIUM and NODE_MODULES come from it.
import { createRequire } from "node:module";

const require = createRequire(`${process.env.NODE_MODULES}/`);
const { chromium } = require("playwright-core");
const base = process.env.BASE_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const rows = "table[aria-label=Leads] tbody tr";
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  // Usable: the first page of leads on screen, from the start of the navigation.
  await page.goto(`${base}/`, { waitUntil: "commit" });
  await page.waitForSelector(rows);
  const usable = await page.evaluate(() => performance.now());
  const bytes = await page.evaluate(() =>
    [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
      .reduce((sum, e) => sum + e.transferSize, 0));
  const timed = async (act, done, arg) => {
    const t = await page.evaluate(() => performance.now());
    await act();
    await page.waitForFunction(done, arg);
    return (await page.evaluate(() => performance.now())) - t;
  };
  const firstOnPage = await page.textContent(`${rows}:first-child td:nth-child(2) a`);
  const next = await timed(() => page.click("text=Next page"), (first) => {
    const a = document.querySelector("table[aria-label=Leads] tbody tr:first-child td:nth-child(2) a");
    return a && a.textContent !== first;
  }, firstOnPage);
  const filter = await timed(async () => {
    await page.selectOption("select[name=tier]", "hot");
    await page.click("form[role=search] button[type=submit]");
  }, () => {
    const tiers = [...document.querySelectorAll("table[aria-label=Leads] tbody tr .tier")];
    return tiers.length > 0 && tiers.every((t) => t.textContent === "hot");
  });

  console.log(JSON.stringify({ usable_ms: usable, first_load_bytes: bytes, filter_ms: filter, next_page_ms: next }));
} finally {
  await browser.close();
}
