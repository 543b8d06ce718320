// The web app as a rep uses it, in Debian's chromium driven by Playwright, against
// `leadscore serve` loaded with the demo's leads. Run by cli/tests/suite/web.rs, which installs the
// tools and starts the server: BASE_URL, CHROMIUM, NODE_MODULES and SHOTS (where the
// screenshots go) come from it. Each check throws with what it saw; axe-core must find no
// serious or critical accessibility violation on any view.

import assert from "node:assert/strict";
import { axe, base, launch, shots, step } from "./common.mjs";

const browser = await launch();
const failures = [];

/** axe-core on the page as it stands: the serious and critical violations are failures. */
async function accessible(page, view) {
  const { violations, serious: bad } = await axe(page);
  for (const v of bad) {
    failures.push(`${view}: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")}`);
  }
  step(`${view}: axe-core found ${violations.length} violations, ${bad.length} serious or critical`);
  for (const v of violations) step(`  ${v.id} (${v.impact}): ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`);
}

const scores = (page) => page.$$eval("table[aria-label=Leads] tbody tr", (rows) =>
  rows.map((r) => ({
    score: Number(r.querySelector(".score").textContent) || -1,
    tier: r.querySelector(".tier").textContent,
    name: r.querySelector("td:nth-child(2) a").textContent,
  })));

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));

  // The list: the demo's leads, highest score first.
  await page.goto(`${base}/`);
  await page.waitForSelector("table[aria-label=Leads] tbody tr");
  const all = await scores(page);
  step(`the list shows ${all.length} leads, first ${all[0].name} (${all[0].score})`);
  assert.equal(all.length, 26, "the demo's 26 leads on one page");
  for (let i = 1; i < all.length; i++) {
    assert.ok(all[i - 1].score >= all[i].score, `score order broken at row ${i}: ${JSON.stringify(all.slice(i - 1, i + 1))}`);
  }
  await page.screenshot({ path: `${shots}/leads.png` });
  await accessible(page, "lead list");

  // Filtering by hot narrows it to the hot leads.
  await page.selectOption("select[name=tier]", "hot");
  await page.click("form[role=search] button[type=submit]");
  await page.waitForFunction(() => location.hash.includes("tier=hot"));
  await page.waitForFunction(() => {
    const tiers = [...document.querySelectorAll("table[aria-label=Leads] tbody tr .tier")];
    return tiers.length > 0 && tiers.every((t) => t.textContent === "hot");
  });
  const hot = await scores(page);
  step(`filtered by hot: ${hot.length} leads`);
  assert.ok(hot.length > 0 && hot.every((l) => l.tier === "hot"), JSON.stringify(hot));
  assert.equal(hot.length, all.filter((l) => l.tier === "hot").length);

  // A quote scrolls the transcript to its line.
  await page.goto(`${base}/#/`);
  await page.waitForSelector("table[aria-label=Leads] tbody tr");
  await page.click("table[aria-label=Leads] tbody tr:first-child td:nth-child(2) a");
  const quote = page.locator("button.quote").first();
  await quote.waitFor();
  const quoted = (await quote.textContent()).match(/“(.*)”/)[1];
  await quote.click();
  const current = page.locator(".transcript p.current");
  await current.waitFor();
  assert.ok((await current.textContent()).includes(quoted), `the marked line says “${quoted}”`);
  const inView = await current.evaluate((line) => {
    const box = line.closest(".transcript").getBoundingClientRect();
    const r = line.getBoundingClientRect();
    return r.top >= box.top && r.bottom <= box.bottom;
  });
  assert.ok(inView, "the quoted line is scrolled into the transcript's view");
  step(`the quote “${quoted}” marks its line in the transcript`);
  const sides = await page.locator("figure.sentiment svg polyline").count();
  assert.ok(sides >= 1, "the call's sentiment is plotted");
  await page.screenshot({ path: `${shots}/lead.png`, fullPage: true });
  await accessible(page, "lead detail");

  // A stored recording plays in the page: the demo's two recordings wait for the speech
  // engine, their leads unscored at the end of the list.
  await page.goto(`${base}/#/`);
  await page.waitForSelector("table[aria-label=Leads] tbody tr");
  await page.click("table[aria-label=Leads] tbody tr:last-child td:nth-child(2) a");
  await page.click("button:text-is('Play recording')");
  await page.waitForFunction(() => {
    const player = document.querySelector("audio");
    return player && player.readyState >= 1 && player.duration > 0;
  });
  const seconds = await page.$eval("audio", (a) => a.duration);
  step(`a stored recording loads in the player: ${seconds.toFixed(1)} s`);

  // The rule editor: a typo is shown at its column; a valid rule previews, saves, re-ranks.
  await page.goto(`${base}/#/rules`);
  await page.click("text=New rule");
  const typo = "calls.count >= 1 and objection.too_expensiv";
  await page.fill("#criteria", typo);
  await page.waitForSelector("#criteria-check.error");
  const error = await page.textContent("#criteria-check");
  const caret = await page.textContent(".caret");
  assert.ok(error.includes("column 22"), error);
  assert.equal(caret.indexOf("^"), 21, `the caret under column 22: ${JSON.stringify(caret)}`);
  step(`a typo: “${error}”`);
  await accessible(page, "rule editor");
  await page.fill("#criteria", "objection.too_expensive");
  await page.waitForSelector("#criteria-check.ok");
  await page.fill("#weight", "100");
  await page.fill("#description", "Price is the only question left");
  await page.click("text=Preview");
  const preview = page.locator(".preview");
  await preview.waitFor();
  const summary = await preview.locator("p").first().textContent();
  step(`the preview: ${summary}`);
  const moved = await preview.locator("tbody tr").count();
  assert.ok(moved > 0, summary);
  // The lead that moves most, and the score it would have.
  const riser = await preview.locator("tbody tr").first().evaluate((row) => ({
    name: row.querySelector("td:first-child").textContent,
    score: Number(row.querySelector("td:nth-child(3)").textContent.trim().split(" ")[0]),
  }));
  await page.screenshot({ path: `${shots}/rules.png`, fullPage: true });
  await page.click("form.form button[type=submit]");
  await page.waitForFunction(() => location.hash === "#/");
  // The re-score runs in the background; the list polls and re-ranks without a reload.
  await page.waitForFunction(({ name, score }) =>
    [...document.querySelectorAll("table[aria-label=Leads] tbody tr")].some((row) =>
      row.querySelector("td:nth-child(2) a").textContent === name &&
      Number(row.querySelector(".score").textContent) === score), riser, { timeout: 60_000 });
  const reranked = await scores(page);
  const rank = reranked.findIndex((l) => l.name === riser.name);
  step(`after saving, the list re-ranked: ${riser.name} now ${riser.score}, row ${rank + 1} (was ${all.findIndex((l) => l.name === riser.name) + 1})`);
  for (let i = 1; i < reranked.length; i++) assert.ok(reranked[i - 1].score >= reranked[i].score);

  // Marking a lead won changes the conversion report.
  const conversion = () => page.goto(`${base}/#/reports`).then(() =>
    page.locator(".conversion-total").textContent());
  const before = await conversion();
  await page.goto(`${base}/#/`);
  await page.click("table[aria-label=Leads] tbody tr:first-child td:nth-child(2) a");
  await page.fill("#deal-value", "12000");
  await page.click("button:text-is('Won')");
  await page.waitForSelector("text=Outcome: won");
  const after = await conversion();
  step(`conversion report: “${before}” → “${after}”`);
  assert.notEqual(before, after);
  assert.ok(/1 won/.test(after) && /value won 12000/.test(after), after);
  await page.waitForSelector("figure[data-report=gains] svg");
  // The demo's calls name their agents; the week chart and the time to touch are drawn.
  const agents = await page.locator("figure[data-report=agents] tbody tr").allTextContents();
  assert.ok(agents.length > 0, "an agent row");
  await page.waitForSelector("figure[data-report=activity] svg rect.s1");
  const touch = await page.locator("figure[data-report=time_to_touch] dl").textContent();
  step(`agents: ${agents.length} (${agents[0]}); time to touch: ${touch}`);
  await page.screenshot({ path: `${shots}/reports.png`, fullPage: true });
  await accessible(page, "reports");

  // A viewer's key: the page reads, and offers nothing the role may not do.
  const made = await page.evaluate(async () => {
    const r = await fetch("/api_keys", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "browser test viewer", role: "viewer" }) });
    return r.json();
  });
  await page.evaluate((token) => sessionStorage.setItem("leadscore.key", token), made.token);
  await page.goto(`${base}/#/`);
  await page.reload();
  await page.waitForSelector("table[aria-label=Leads] tbody tr");
  assert.equal(await page.evaluate(() => document.body.dataset.role), "viewer");
  await page.click("table[aria-label=Leads] tbody tr:first-child td:nth-child(2) a");
  await page.waitForSelector("text=you read this lead");
  assert.equal(await page.locator("button:text-is('Won')").count(), 0, "a viewer cannot mark a lead won");
  await page.goto(`${base}/#/rules`);
  await page.waitForSelector("table[aria-label='Scoring rules']");
  assert.equal(await page.locator("text=New rule").count(), 0, "a viewer cannot add a rule");
  assert.equal(await page.locator("button:text-is('Edit')").count(), 0);
  step("with a viewer's key the page reads and offers no change");
  await page.evaluate(() => sessionStorage.removeItem("leadscore.key"));

  // A phone's width: nothing spills sideways but the tables, which scroll in their box.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(`${base}/#/`);
  await page.waitForSelector("table[aria-label=Leads] tbody tr");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 360, `the page is ${overflow} px wide at 360`);
  await page.screenshot({ path: `${shots}/leads-360.png` });
  await accessible(page, "lead list at 360 px");
  step("at 360 px the page fits");

  assert.deepEqual(pageErrors, [], "no script errors");
  await context.close();
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`accessibility:\n${failures.join("\n")}`);
  process.exit(1);
}
console.log("web app: every check passed");
