// Signing in to the web app with an OpenID Connect provider, in Debian's chromium driven by
// Playwright: `leadscore serve --oidc-issuer` against the stand-in provider of
// `testkit::oidc`, both started by cli/tests/suite/web.rs (BASE_URL, CHROMIUM, NODE_MODULES, SHOTS).
// The provider's tokens last 61 s, so the page renews its ID token within a second of
// signing in (the Rust side counts the renewals).

import assert from "node:assert/strict";
import { axe, base, launch, shots, step } from "./common.mjs";

const browser = await launch();

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));

  // No token: the page offers the provider's sign-in (and the key form).
  await page.goto(`${base}/#/rules`);
  const signInButton = page.locator("main button:text-is('Sign in')");
  await signInButton.waitFor();
  const { violations, serious } = await axe(page);
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.help}`), [], "accessibility of the sign-in offer");
  await page.screenshot({ path: `${shots}/sign-in.png` });
  step(`without a token the page offers the sign-in (axe-core: ${violations.length} violations, none serious)`);

  // To the provider and back: the code traded for tokens, the view asked for shown.
  await signInButton.click();
  await page.waitForURL((url) => url.pathname === "/oauth2/authorize");
  const authorize = new URL(page.url());
  assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
  assert.equal(authorize.searchParams.get("redirect_uri"), `${base}/`);
  assert.equal(authorize.searchParams.get("client_id"), "leadscore-web");
  step(`at the provider: ${authorize.origin}${authorize.pathname}, PKCE S256`);
  await page.selectOption("select[name=user]", "rep@example.com");
  await page.click("button[type=submit]");
  await page.waitForSelector("table[aria-label='Scoring rules']");
  assert.equal(new URL(page.url()).search, "", "the code left the address bar");
  assert.equal(new URL(page.url()).hash, "#/rules", "back on the view asked for");
  await page.waitForSelector("#account button:text-is('Sign out')");
  const account = await page.textContent("#account");
  assert.ok(account.includes("rep@example.com · rep"), account);
  assert.equal(await page.locator("text=New rule").count(), 0, "a rep changes no rules");
  assert.ok(await page.locator("text=As a rep you read the rules").count() > 0);
  step(`signed in: "${account.trim()}"; the rules read-only for a rep`);

  // The list and a lead, with the ID token (renewed on the way: it lasts 61 s).
  await page.waitForTimeout(1200);
  await page.goto(`${base}/#/`);
  await page.waitForSelector("table[aria-label=Leads] tbody tr");
  const rows = await page.locator("table[aria-label=Leads] tbody tr").count();
  assert.equal(rows, 26, "the demo's leads");
  await page.click("table[aria-label=Leads] tbody tr:first-child td:nth-child(2) a");
  await page.waitForSelector("button:text-is('Won')");
  step(`the list (${rows} leads) and a lead's detail, a rep's buttons on it`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${shots}/signed-in.png` });
  const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("leadscore.tokens")));
  assert.ok(stored.id_token && stored.refresh_token, "the tokens are kept in the tab's session");

  // A forged answer (a state this tab did not start) is refused, and nothing is traded.
  await page.goto(`${base}/?code=stolen&state=forged#/`);
  await page.waitForSelector("#notice:not([hidden])");
  const notice = (await page.textContent("#notice")).trim();
  assert.ok(notice.includes("does not match a sign-in started in this tab"), notice);
  assert.equal(new URL(page.url()).search, "", "the forged code left the address bar");
  step(`a forged answer is refused: "${notice}"`);

  // Sign out: tokens gone, the provider's session ended, back to the sign-in.
  await page.waitForSelector("#account button:text-is('Sign out')");
  await page.click("#account button:text-is('Sign out')");
  await page.waitForURL((url) => url.origin === new URL(base).origin);
  await page.locator("main button:text-is('Sign in')").waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("leadscore.tokens")), null);
  assert.ok(requests.some((u) => u.includes("/logout?")), "the provider's session ended");
  step("signed out: the provider's session ended, the sign-in offered again");

  assert.deepEqual(pageErrors, [], "errors in the page");
  console.log("every check passed");
} finally {
  await browser.close();
}
