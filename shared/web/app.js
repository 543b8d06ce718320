// leadscore's web app: a client of the documented JSON API and nothing else. No framework, no
// build step: the browser runs this file as it is served, from inside the binary.
//
// Views (the part of the address after `#`): `/` the lead list, `/leads/{id}` one lead,
// `/rules` the rule editor, `/reports` the reports. The lead list asks for its page again every
// POLL_SECONDS while it is shown and redraws when the answer changed (new scores appear without
// a reload).

export const POLL_SECONDS = 5;

const view = document.getElementById("view");
const statusLine = document.getElementById("status");
let pollTimer = null;

// ---- the API ------------------------------------------------------------------------------

/** A problem document from the API, kept whole. */
class Problem extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// ---- signing in ---------------------------------------------------------------------------
//
// Locally on 127.0.0.1 no one signs in. Where the server names an identity provider
// (`/app/sign-in.json`: on AWS, or `serve --oidc-issuer`), a person signs in there with the
// authorization code flow and PKCE (RFC 7636): this page is the redirect URI, the code is traded
// for tokens from the browser (a public client, no secret), the ID token is the bearer token, and
// the refresh token renews it a minute before it expires. Tokens live in this tab's session
// storage, gone when the tab closes. An API key pasted in works everywhere.

const TOKENS = "leadscore.tokens";
const PENDING = "leadscore.pkce";
const KEY = "leadscore.key";
let signInSettings; // undefined: not asked yet; null: the server has none
let renewing = null;

async function signIn() {
  if (signInSettings === undefined) {
    const response = await fetch("/app/sign-in.json", { headers: { accept: "application/json" } });
    signInSettings = response.ok ? await response.json() : null;
  }
  return signInSettings;
}

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const randomText = () => base64url(crypto.getRandomValues(new Uint8Array(32)));
const redirectUri = () => `${location.origin}${location.pathname}`;
const saved = () => JSON.parse(sessionStorage.getItem(TOKENS) || "null");

/** Off to the provider's sign-in page, with a fresh verifier and state kept in this tab. */
async function startSignIn() {
  const settings = await signIn();
  const verifier = randomText();
  const state = randomText();
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash }));
  const url = new URL(settings.authorization_endpoint);
  for (const [name, value] of Object.entries({
    response_type: "code", client_id: settings.client_id, redirect_uri: redirectUri(),
    scope: settings.scope, state, code_challenge: base64url(digest), code_challenge_method: "S256",
  })) url.searchParams.set(name, value);
  location.assign(url.href);
}

/** A token request (the code traded, or a renewal): the tokens kept, or an error saying why. */
async function tokenRequest(params) {
  const settings = await signIn();
  const response = await fetch(settings.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: settings.client_id, ...params }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.id_token) {
    throw new Error(`Signing in failed: ${body.error_description || body.error || `HTTP ${response.status}`}.`);
  }
  const tokens = {
    id_token: body.id_token,
    refresh_token: body.refresh_token || params.refresh_token,
    expires_at: Date.now() + (Number(body.expires_in) || 3600) * 1000,
  };
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return tokens;
}

/** Back from the provider (`?code=&state=`, or `?error=`): the code traded for tokens. */
async function finishSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  // The code leaves the address bar and the history at once.
  history.replaceState(null, "", `${location.pathname}${pending ? pending.hash : ""}`);
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("The sign-in's answer does not match a sign-in started in this tab: sign in again.");
  }
  if (params.has("error")) {
    throw new Error(`The identity provider refused the sign-in: ${params.get("error_description") || params.get("error")}.`);
  }
  await tokenRequest({
    grant_type: "authorization_code", code: params.get("code"),
    redirect_uri: redirectUri(), code_verifier: pending.verifier,
  });
}

/** The bearer token: the ID token (renewed once for all requests when under a minute is left),
 * else the pasted API key. */
async function bearer() {
  const tokens = saved();
  if (tokens && Date.now() < tokens.expires_at - 60000) return tokens.id_token;
  if (tokens && tokens.refresh_token) {
    renewing = renewing || tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token })
      .finally(() => { renewing = null; });
    try {
      return (await renewing).id_token;
    } catch (error) {
      sessionStorage.removeItem(TOKENS);
      say(`${error.message} Sign in again.`);
    }
  } else if (tokens) sessionStorage.removeItem(TOKENS);
  return sessionStorage.getItem(KEY);
}

/** Sign out: the tokens and key forgotten, and the provider's session ended where it can be. */
async function signOut() {
  const hadTokens = Boolean(saved());
  sessionStorage.removeItem(TOKENS);
  sessionStorage.removeItem(KEY);
  me = null;
  const settings = hadTokens ? await signIn() : null;
  if (settings && settings.end_session_endpoint) {
    const url = new URL(settings.end_session_endpoint);
    url.searchParams.set("client_id", settings.client_id);
    url.searchParams.set(settings.logout_redirect_parameter, redirectUri());
    location.assign(url.href);
  } else {
    showAccount();
    route();
  }
}

/** The header's account line: who is signed in and how, with a way out. */
function showAccount() {
  const account = document.getElementById("account");
  const tokens = saved();
  if (!tokens && !sessionStorage.getItem(KEY)) {
    account.replaceChildren();
    return;
  }
  document.getElementById("key-form").hidden = true;
  let who = "API key";
  if (tokens) {
    try {
      who = JSON.parse(atob(tokens.id_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).email || "signed in";
    } catch { who = "signed in"; }
  }
  account.replaceChildren(h("span", { class: "muted" }, me ? `${who} · ${me.role}` : who),
    h("button", { type: "button", class: "secondary", onclick: () => signOut().catch(showError) }, "Sign out"));
}

/** No one signed in: the ways in, in the view (the provider's sign-in where there is one) and
 * the key form in the header. */
async function offerSignIn() {
  showAccount();
  document.getElementById("key-form").hidden = false;
  const settings = await signIn().catch(() => null);
  view.replaceChildren(h("section", { class: "card sign-in" },
    h("h1", {}, "Sign in"),
    settings
      ? h("p", {}, "Sign in with your company account, or paste an API key above.")
      : h("p", {}, "Paste an API key above (an admin makes one under API keys, or with `leadscore keys create`)."),
    settings ? h("button", { type: "button", onclick: () => startSignIn().catch(showError) }, "Sign in") : null));
  say("");
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { accept: "application/json" };
  const token = await bearer();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401) {
      sessionStorage.removeItem(TOKENS);
      sessionStorage.removeItem(KEY);
      me = null;
    }
    throw new Problem(response.status, data);
  }
  return data;
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("api-key");
  sessionStorage.setItem(KEY, input.value.trim());
  input.value = "";
  event.target.hidden = true;
  me = null;
  route();
});

// Who the page acts as (`GET /me`): it offers each role only what the role may do.
let me = null;
const RANKS = { viewer: 0, rep: 1, admin: 2 };

async function whoAmI() {
  if (!me) {
    me = await api("/me");
    showAccount();
  }
  document.body.dataset.role = me.role;
  return me;
}

/** Whether the caller's role is `role` or above. */
function can(role) {
  return Boolean(me) && RANKS[me.role] >= RANKS[role];
}

// ---- small helpers ------------------------------------------------------------------------

/** An element: `h("a", {href: "#/"}, "text", child)`. Text is always text, never markup. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function say(text) {
  statusLine.textContent = text;
}

function tierBadge(tier) {
  return h("span", { class: `tier ${tier || "none"}` }, tier || "new");
}

function nameOf(lead) {
  const person = [lead.first_name, lead.last_name].filter((p) => p && p.trim()).join(" ");
  return person || lead.company || lead.phone_number;
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  const sec = Math.floor(seconds % 60);
  return `${m}:${String(sec).padStart(2, "0")}`;
}

function points(p) {
  const rounded = Math.round(p * 10) / 10;
  return `${rounded > 0 ? "+" : ""}${rounded}`;
}

function percent(x) {
  return x === null || x === undefined ? "–" : `${Math.round(x * 1000) / 10}%`;
}

function lastActivity(lead) {
  const times = [lead.last_called_at, lead.sms && lead.sms.last_reply_at, lead.sms && lead.sms.last_click_at]
    .filter(Boolean)
    .sort();
  return times.length ? times[times.length - 1] : null;
}

/** A table in a box that scrolls sideways on a narrow screen, reachable by keyboard. */
function scroller(label, table) {
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": `${label}, scrollable` }, table);
}

function showError(error) {
  if (error.status === 401) {
    offerSignIn();
    return;
  }
  view.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
}

// ---- routing ------------------------------------------------------------------------------

function route() {
  clearInterval(pollTimer);
  pollTimer = null;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const section = path.startsWith("/rules") ? "rules" : path.startsWith("/reports") ? "reports" : "leads";
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const lead = path.match(/^\/leads\/([^/]+)$/);
  const render = whoAmI().then(() => lead
    ? leadDetail(decodeURIComponent(lead[1]))
    : section === "rules"
      ? rulesView()
      : section === "reports"
        ? reportsView()
        : leadList(params));
  render.catch(showError);
}

window.addEventListener("hashchange", route);

// ---- the lead list ------------------------------------------------------------------------

const LIST_FILTERS = ["tier", "min_score", "max_score", "status", "q", "sort"];

async function leadList(params) {
  document.title = "Leads · leadscore";
  const filters = Object.fromEntries(LIST_FILTERS.map((f) => [f, params.get(f) || ""]));
  const cursors = (params.get("cursors") || "").split(",").filter(Boolean);
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter leads", onsubmit: (e) => applyFilters(e, form) },
    h("label", {}, "Tier", h("select", { name: "tier" }, ["", "hot", "warm", "cold"].map((t) =>
      h("option", { value: t, selected: filters.tier === t }, t || "any")))),
    h("label", {}, "Score from", h("input", { name: "min_score", type: "number", min: 0, max: 100, value: filters.min_score })),
    h("label", {}, "to", h("input", { name: "max_score", type: "number", min: 0, max: 100, value: filters.max_score })),
    h("label", {}, "CRM status", h("input", { name: "status", value: filters.status, size: 10 })),
    h("label", {}, "Search", h("input", { name: "q", type: "search", value: filters.q, placeholder: "name, company, phone" })),
    h("label", {}, "Sort by", h("select", { name: "sort" }, [["", "score"], ["last_activity", "last activity"], ["name", "name"]].map(([v, t]) =>
      h("option", { value: v, selected: filters.sort === v }, t)))),
    h("button", { type: "submit" }, "Apply"),
  );
  const table = h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Leads, scrollable" });
  const pager = h("div", { class: "pager" });
  view.replaceChildren(h("h1", {}, "Leads"), form, table, pager);

  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) query.set(k, v);
  query.set("limit", "50");
  if (cursors.length) query.set("cursor", cursors[cursors.length - 1]);
  const path = `/leads?${query}`;
  let last = null;
  const draw = async () => {
    const page = await api(path);
    const text = JSON.stringify(page);
    if (text === last) return;
    const first = last === null;
    last = text;
    table.replaceChildren(leadTable(page.leads));
    pager.replaceChildren(
      cursors.length
        ? h("button", { type: "button", class: "secondary", onclick: () => go(filters, cursors.slice(0, -1)) }, "Previous page")
        : null,
      page.next_cursor
        ? h("button", { type: "button", class: "secondary", onclick: () => go(filters, [...cursors, page.next_cursor]) }, "Next page")
        : null,
    );
    say(first ? `${page.leads.length} leads shown` : `Updated ${new Date().toLocaleTimeString()}`);
  };
  await draw();
  pollTimer = setInterval(() => draw().catch((e) => say(`Could not refresh: ${e.message}`)), POLL_SECONDS * 1000);
}

function applyFilters(event, form) {
  event.preventDefault();
  const data = new FormData(form);
  go(Object.fromEntries(LIST_FILTERS.map((f) => [f, (data.get(f) || "").trim()])), []);
}

function go(filters, cursors) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  if (cursors.length) q.set("cursors", cursors.join(","));
  const hash = `#/?${q}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function leadTable(leads) {
  if (!leads.length) return h("p", {}, "No leads match.");
  const crmState = (lead) =>
    Object.entries(lead.crm_sync || {}).map(([crm, s]) => `${crm}: ${s.state}`).join(", ") || "–";
  const texts = (lead) => {
    const sms = lead.sms;
    if (!sms) return "–";
    const consent = sms.opted_out ? "opted out" : sms.opted_in ? "opted in" : "no consent";
    return `${sms.sent} sent, ${sms.replies} replies · ${consent}`;
  };
  return h(
    "table",
    { "aria-label": "Leads" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", class: "num" }, "Score"),
      h("th", { scope: "col" }, "Lead"),
      h("th", { scope: "col" }, "Phone"),
      h("th", { scope: "col", class: "num" }, "Calls"),
      h("th", { scope: "col", class: "hide-narrow" }, "Texts and consent"),
      h("th", { scope: "col" }, "Top reasons"),
      h("th", { scope: "col", class: "hide-narrow" }, "Last activity"),
      h("th", { scope: "col", class: "hide-narrow" }, "CRM"),
    )),
    h("tbody", {}, leads.map((lead) =>
      h("tr", { dataset: { lead: lead.lead_id } },
        h("td", { class: "num" }, h("span", { class: "score" }, lead.lead_score ?? "–"), " ", tierBadge(lead.tier)),
        h("td", {}, h("a", { href: `#/leads/${encodeURIComponent(lead.lead_id)}` }, nameOf(lead)),
          lead.company && nameOf(lead) !== lead.company ? h("div", { class: "muted" }, lead.company) : null),
        h("td", {}, lead.phone_number),
        h("td", { class: "num" }, lead.call_count),
        h("td", { class: "hide-narrow" }, texts(lead)),
        h("td", {}, h("ul", { class: "reasons" }, lead.factors.slice(0, 2).map((f) =>
          h("li", {}, `${f.description} (${points(f.points)})`)))),
        h("td", { class: "hide-narrow" }, when(lastActivity(lead))),
        h("td", { class: "hide-narrow" }, crmState(lead)),
      ))),
  );
}

// ---- one lead -----------------------------------------------------------------------------

async function leadDetail(id) {
  const lead = await api(`/leads/${encodeURIComponent(id)}`);
  const name = nameOf(lead);
  document.title = `${name} · leadscore`;
  const transcript = h("section", { "aria-label": "Transcript" }, h("h2", {}, "Transcript"),
    h("p", { class: "muted" }, "Choose a quote or a call to read its transcript here."));
  const openTranscript = (callId, at) => showTranscript(transcript, lead, callId, at).catch((e) => say(e.message));

  const factors = h("section", { "aria-labelledby": "why" }, h("h2", { id: "why" }, "Why this score"),
    lead.factors.length ? lead.factors.map((f) => factorView(f, openTranscript)) : h("p", {}, "No factors yet."));

  const calls = h("section", {}, h("h2", {}, `Calls (${lead.calls_total})`),
    lead.calls.length
      ? scroller("Calls", h("table", { "aria-label": "Calls" },
        h("thead", {}, h("tr", {}, ["When", "Direction", "Length", "Agent", "Customer sentiment", "Transcript"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, lead.calls.map((c) => h("tr", {},
          h("td", {}, when(c.call_start_time)),
          h("td", {}, c.direction || "–"),
          h("td", {}, c.call_duration ? clock(c.call_duration) : "–"),
          h("td", {}, (c.attributes && c.attributes.agent) || (c.analysis && c.analysis.roles && c.analysis.roles.agent) || "–"),
          h("td", {}, sentimentBars(c)),
          h("td", {},
            c.transcript_path
              ? h("button", { type: "button", class: "secondary", onclick: () => openTranscript(c.call_id, null) }, "Transcript")
              : c.status,
            c.recording_key
              ? [" ", h("button", { type: "button", class: "secondary", onclick: () => playRecording(transcript, c, 0).catch((e) => say(e.message)) }, "Play recording")]
              : null),
        )))))
      : h("p", {}, "No calls."));

  const history = h("section", {}, h("h2", {}, "Score history"), historyChart(lead.score_history));
  const texts = h("section", {}, h("h2", {}, `Texts (${lead.sms_log_total})`), smsList(lead.sms_log));
  const consent = h("section", {}, h("h2", {}, "Consent"), h("p", { class: "muted" }, "Loading…"));
  api(`/leads/${encodeURIComponent(lead.lead_id)}/consent`)
    .then((ledger) => consent.replaceChildren(h("h2", {}, "Consent"), consentList(ledger)))
    .catch((e) => consent.replaceChildren(h("h2", {}, "Consent"), h("p", { class: "error" }, e.message)));

  view.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, "← All leads")),
    h("h1", {}, name),
    h("div", { class: "cards" },
      h("div", { class: "card" },
        h("div", { class: "big", "aria-label": `Score ${lead.lead_score ?? "none"}` }, lead.lead_score ?? "–"),
        tierBadge(lead.tier),
        lead.probability != null ? h("p", {}, `Chance to convert: ${percent(lead.probability)}`) : null,
        h("p", {}, lead.phone_number, lead.company ? ` · ${lead.company}` : "", lead.email ? ` · ${lead.email}` : ""),
        lead.outcome
          ? h("p", {}, `Outcome: ${lead.outcome.converted ? "won" : "lost"}`, lead.outcome.value != null ? ` (${lead.outcome.value})` : "")
          : null,
      ),
      can("rep") ? actions(lead) : h("div", { class: "card" }, h("p", { class: "muted" }, `As a ${me.role} you read this lead; a rep records outcomes and adjusts scores.`)),
    ),
    factors,
    transcript,
    history,
    calls,
    texts,
    consent,
  );
  view.focus();
}

function factorView(factor, openTranscript) {
  const cls = factor.points < 0 ? "neg" : "pos";
  return h("div", { class: "factor" },
    h("div", {}, h("span", { class: `pts ${cls}` }, points(factor.points)), " ", factor.description),
    factor.note ? h("div", { class: "muted" }, factor.note) : null,
    factor.evidence.length
      ? h("ul", {}, factor.evidence.map((e) => h("li", {}, evidenceView(e, openTranscript))))
      : null,
  );
}

function evidenceView(e, openTranscript) {
  switch (e.kind) {
    case "quote":
      return h("button", {
        type: "button", class: "quote",
        onclick: () => openTranscript(e.call_id, e.at),
      }, `“${e.text}” — ${e.speaker} at ${clock(e.at)}`);
    case "sms":
      return `Text ${when(e.at)}: “${e.text}”`;
    case "click":
      return `Opened ${e.url} ${when(e.at)}`;
    default:
      return `${e.name}: ${e.value}`;
  }
}

async function showTranscript(section, lead, callId, at) {
  const page = await api(`/calls/${encodeURIComponent(callId)}/transcript?limit=500`);
  const call = lead.calls.find((c) => c.call_id === callId);
  const lines = page.items.map((seg, i) =>
    h("p", { id: `seg-${i}`, dataset: { start: seg.start } },
      h("span", { class: "t" }, clock(seg.start)), h("strong", {}, `${seg.speaker}: `), seg.text));
  const box = h("div", { class: "transcript", tabindex: 0, "aria-label": "Transcript lines" }, lines);
  section.replaceChildren(h("h2", {}, `Transcript: ${call ? when(call.call_start_time) : callId}`),
    call ? sentimentPlot(call) : null, box);
  // Where the recording is stored, it plays from the quote's second.
  if (call && call.recording_key) await playRecording(section, call, at || 0);
  if (at === null || at === undefined) return;
  // The line being spoken at `at`: the last that starts at or before it.
  let index = 0;
  page.items.forEach((seg, i) => { if (seg.start <= at + 0.01) index = i; });
  const line = lines[index];
  if (!line) return;
  line.classList.add("current");
  line.setAttribute("aria-current", "true");
  section.scrollIntoView({ block: "start" });
  box.scrollTop = line.offsetTop - box.offsetTop - 8;
  say(`Transcript at ${clock(at)}`);
}

/** The call's recording in a player at the top of `section`, started at `at` seconds. */
async function playRecording(section, call, at) {
  const link = await api(`/calls/${encodeURIComponent(call.call_id)}/recording`);
  let player = section.querySelector("audio");
  if (!player) {
    player = h("audio", { controls: true, preload: "metadata", "aria-label": "The call's recording" });
    section.querySelector("h2") ? section.querySelector("h2").after(player) : section.prepend(player);
  }
  player.src = link.url;
  const start = () => {
    player.currentTime = at;
    player.play().catch(() => say("Press play to hear the call."));
  };
  if (player.readyState >= 1) start();
  else player.addEventListener("loadedmetadata", start, { once: true });
}

/** Each side's sentiment over the call (-1..1 against seconds), when the analysis has it. */
function sentimentPlot(call) {
  const points = (call.analysis && call.analysis.sentiment && call.analysis.sentiment.timeline) || [];
  if (points.length < 2) return null;
  const w = 560, ht = 120, pad = 28;
  const end = Math.max(1, call.call_duration || 0, ...points.map((p) => p.at));
  const x = (t) => pad + (t / end) * (w - 2 * pad);
  const y = (v) => ht / 2 - v * (ht / 2 - 10);
  const side = (customer) => points.filter((p) => p.customer === customer);
  const line = (pts, cls) => pts.length
    ? s("polyline", { class: cls, points: pts.map((p) => `${x(p.at)},${y(p.score)}`).join(" ") })
    : null;
  const mean = (pts) => pts.length ? (pts.reduce((a, p) => a + p.score, 0) / pts.length).toFixed(2) : "–";
  return h("figure", { class: "sentiment" },
    s("svg", { viewBox: `0 0 ${w} ${ht}`, width: "100%", class: "history", role: "img",
      "aria-label": `Sentiment over the call: customer ${mean(side(true))} on average over ${side(true).length} turns, agent ${mean(side(false))} over ${side(false).length}` },
    s("line", { class: "axis", x1: pad, x2: w - pad, y1: y(0), y2: y(0) }),
    s("text", { x: 2, y: y(1) + 4 }, "+1"), s("text", { x: 2, y: y(0) + 4 }, "0"), s("text", { x: 2, y: y(-1) + 4 }, "−1"),
    line(side(false), "line agent"), line(side(true), "line"),
    s("text", { x: w - pad - 120, y: 12 }, "— customer"), s("text", { class: "agent-label", x: w - pad - 50, y: 12 }, "— agent")),
    h("figcaption", { class: "muted" }, "Sentiment over the call, per side"));
}

function sentimentBars(call) {
  const sentiment = call.analysis && call.analysis.sentiment;
  if (!sentiment) return "–";
  // Where the customer started and ended, and the agent: -1..1 as a bar each side of zero.
  const rows = [["start", sentiment.customer_start], ["end", sentiment.customer_end], ["agent", sentiment.agent]];
  const width = 120;
  const svg = s("svg", { width: width + 44, height: rows.length * 14, role: "img",
    "aria-label": rows.map(([n, v]) => `${n} ${v.toFixed(2)}`).join(", ") },
  rows.map(([label, value], i) => {
    const mid = 44 + width / 2;
    const len = (Math.max(-1, Math.min(1, value)) * width) / 2;
    return [
      s("text", { x: 0, y: i * 14 + 10 }, label),
      s("rect", { class: value < 0 ? "bar" : "bar alt", x: len < 0 ? mid + len : mid, y: i * 14 + 2, width: Math.abs(len) || 1, height: 10 }),
    ];
  }),
  s("line", { class: "axis", x1: 44 + width / 2, x2: 44 + width / 2, y1: 0, y2: rows.length * 14 }));
  return svg;
}

function causeText(cause) {
  switch (cause.type) {
    case "new_call": return "a call";
    case "rule_changed": return `rule ${cause.rule_id} changed`;
    case "model_changed": return `model v${cause.version}`;
    case "manual": return "a manual adjustment";
    case "lead_changed": return "the lead's data changed";
    case "sms": return "a text";
    case "decay": return "time passed";
    default: return "a re-score";
  }
}

function historyChart(history) {
  if (!history.length) return h("p", {}, "Not scored yet.");
  const w = 560, ht = 160, pad = 30;
  const n = history.length;
  const x = (i) => pad + (n === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (n - 1));
  const y = (v) => ht - pad + 10 - (v / 100) * (ht - pad);
  const label = history.map((c) => `${c.score} after ${causeText(c.cause)}`).join("; ");
  return h("figure", {},
    s("svg", { viewBox: `0 0 ${w} ${ht}`, width: "100%", class: "history", role: "img", "aria-label": `Score history: ${label}` },
      s("line", { class: "axis", x1: pad, x2: w - pad, y1: y(0), y2: y(0) }),
      [0, 50, 100].map((v) => s("text", { x: 4, y: y(v) + 4 }, v)),
      s("polyline", { class: "line", points: history.map((c, i) => `${x(i)},${y(c.score)}`).join(" ") }),
      history.map((c, i) => s("circle", { class: "dot", cx: x(i), cy: y(c.score), r: 4 },
        s("title", {}, `${when(c.at)}: ${c.previous ?? "–"} → ${c.score} (${c.tier}) after ${causeText(c.cause)}`)))),
    h("ol", { class: "muted" }, history.slice(-5).map((c) =>
      h("li", {}, `${when(c.at)}: ${c.previous ?? "–"} → ${c.score} ${c.tier}, after ${causeText(c.cause)}`))));
}

function smsList(log) {
  const messages = log.filter((e) => e.type === "message");
  if (!messages.length) return h("p", {}, "No texts.");
  return h("ul", {}, messages.map((e) =>
    h("li", {}, `${when(e.at)} ${e.direction === "inbound" ? "from the lead" : "to the lead"}: “${e.body}”`)));
}

function consentList(consent) {
  const state = consent.opted_out ? "opted out" : consent.opted_in ? "opted in" : "no consent recorded";
  return h("div", {}, h("p", {}, `Now: ${state}`),
    consent.ledger.length
      ? h("ul", {}, consent.ledger.map((e) =>
        h("li", {}, `${when(e.at)}: ${e.action.replace("_", " ")} by ${e.via}${e.evidence ? ` (“${e.evidence}”)` : ""}`)))
      : null);
}

function actions(lead) {
  const id = encodeURIComponent(lead.lead_id);
  const value = h("input", { id: "deal-value", type: "number", min: 0, step: "any" });
  const outcome = (kind) => async () => {
    const body = { outcome: kind };
    if (value.value !== "") body.value = Number(value.value);
    await api(`/leads/${id}/outcome`, { method: "PUT", body });
    say(`Marked ${kind}.`);
    route();
  };
  const pts = h("input", { id: "adjust-points", type: "number", min: -100, max: 100, required: true });
  const reason = h("input", { id: "adjust-reason", required: true, maxlength: 300 });
  const adjust = async (event) => {
    event.preventDefault();
    await api(`/leads/${id}/adjustment`, { method: "PUT", body: { points: Number(pts.value), reason: reason.value } });
    say("Adjusted.");
    route();
  };
  const guard = (f) => (e) => f(e).catch((err) => say(err.message));
  return h("div", { class: "card" },
    h("h2", {}, "Outcome"),
    h("div", { class: "row" },
      h("label", { for: "deal-value" }, "Deal value"), value,
      h("button", { type: "button", onclick: guard(outcome("won")) }, "Won"),
      h("button", { type: "button", class: "secondary", onclick: guard(outcome("lost")) }, "Lost")),
    h("h2", {}, "Adjust the score"),
    h("form", { class: "row", onsubmit: guard(adjust) },
      h("label", { for: "adjust-points" }, "Points"), pts,
      h("label", { for: "adjust-reason" }, "Reason"), reason,
      h("button", { type: "submit" }, "Adjust")),
    lead.adjustment ? h("p", { class: "muted" }, `Adjusted ${points(lead.adjustment.points)}: ${lead.adjustment.reason}`) : null);
}

// ---- rules --------------------------------------------------------------------------------

async function rulesView() {
  document.title = "Rules · leadscore";
  const [{ scoring_rules: rules }, settings, { fields }] = await Promise.all([
    api("/scoring_rules"), api("/settings"), api("/scoring_rules/fields"),
  ]);
  const editor = h("section", { "aria-label": "Rule editor" });
  const open = (rule) => ruleEditor(editor, rule, fields);
  const list = scroller("Scoring rules", h("table", { "aria-label": "Scoring rules" },
    h("thead", {}, h("tr", {}, ["Rule", "Criteria", "Points", "Group (cap)", "Half-life", "On", "Change"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rules.map((r) => h("tr", { dataset: { rule: r.rule_id } },
      h("td", {}, r.description),
      h("td", {}, h("code", {}, r.criteria)),
      h("td", { class: "num" }, points(r.weight)),
      h("td", {}, r.group ? `${r.group}${r.group_cap ? ` (${r.group_cap})` : ""}` : "–"),
      h("td", {}, r.half_life_days ? `${r.half_life_days} d` : "–"),
      h("td", {}, r.enabled ? "yes" : "no"),
      h("td", {}, can("admin") ? h("button", { type: "button", class: "secondary", onclick: () => open(r), "aria-label": `Edit ${r.description}` }, "Edit") : "–"),
    )))));
  view.replaceChildren(
    h("h1", {}, "Scoring rules"),
    can("admin")
      ? h("p", {}, h("button", { type: "button", onclick: () => open(null) }, "New rule"))
      : h("p", { class: "muted" }, `As a ${me.role} you read the rules; an admin changes them.`),
    editor,
    list,
    can("admin") ? tiersForm(settings.tiers)
      : h("p", {}, `Hot from ${settings.tiers.hot}, warm from ${settings.tiers.warm}.`),
  );
}

function ruleEditor(section, rule, fields) {
  const v = (x) => (x === null || x === undefined ? "" : x);
  const criteria = h("textarea", { id: "criteria", class: "criteria", rows: 3, required: true, spellcheck: "false",
    "aria-describedby": "criteria-check" }, v(rule && rule.criteria));
  const caret = h("p", { class: "caret", "aria-hidden": "true" });
  const check = h("p", { id: "criteria-check", role: "status" });
  const input = (id, label, value, attrs = {}) => [h("label", { for: id }, label), h("input", { id, value: v(value), ...attrs })];
  const description = input("description", "Description", rule && rule.description, { maxlength: 300 });
  const weight = input("weight", "Points", rule ? rule.weight : 10, { type: "number", min: -100, max: 100, step: "any", required: true });
  const group = input("group", "Group", rule && rule.group, { size: 14 });
  const cap = input("group_cap", "Group cap", rule && rule.group_cap, { type: "number", min: 0, max: 100, step: "any" });
  const halfLife = input("half_life", "Half-life (days)", rule && rule.half_life_days, { type: "number", min: 0, max: 3650, step: "any" });
  const enabled = h("input", { id: "enabled", type: "checkbox", checked: rule ? rule.enabled : true });
  const outcome = h("div", { "aria-live": "polite" });

  let timer = null;
  const runCheck = async () => {
    const result = await api("/scoring_rules/check", { method: "POST", body: { criteria: criteria.value } });
    if (result.valid) {
      caret.textContent = "";
      check.className = "ok";
      check.textContent = `Valid. Reads ${result.fields.join(", ") || "no fields"}.`;
    } else {
      check.className = "error";
      check.textContent = result.message;
      caret.textContent = result.column ? `${" ".repeat(result.column - 1)}^` : "";
    }
    return result.valid;
  };
  criteria.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => runCheck().catch((e) => say(e.message)), 250);
  });

  const draft = () => {
    const num = (el) => (el.value === "" ? undefined : Number(el.value));
    const d = {
      criteria: criteria.value,
      weight: num(weight[1]),
      description: description[1].value || undefined,
      enabled: enabled.checked,
      group: group[1].value,
      group_cap: num(cap[1]) ?? 0,
      half_life_days: num(halfLife[1]) ?? 0,
    };
    if (!d.group && !rule) delete d.group;
    return d;
  };
  const preview = async () => {
    if (!(await runCheck())) return;
    const body = { rule: draft() };
    if (rule) body.rule_id = rule.rule_id;
    outcome.replaceChildren(previewView(await api("/scoring_rules/preview", { method: "POST", body })));
  };
  const save = async (event) => {
    event.preventDefault();
    if (!(await runCheck())) return;
    const saved = rule
      ? await api(`/scoring_rules/${encodeURIComponent(rule.rule_id)}`, { method: "PUT", body: draft() })
      : await api("/scoring_rules", { method: "POST", body: draft() });
    say(`Saved “${saved.description}”. Every lead is being re-scored.`);
    location.hash = "#/";
  };
  const guard = (f) => (e) => f(e).catch((err) => { outcome.replaceChildren(h("p", { class: "error", role: "alert" }, err.message)); });

  const reference = h("aside", { "aria-label": "Field reference" },
    h("h2", {}, "Fields"),
    h("div", { class: "fields", tabindex: 0, role: "region", "aria-label": "Fields rules can read" },
      h("dl", {}, fields.flatMap((f) => [h("dt", {}, h("code", {}, f.name), ` (${f.type})`), h("dd", {}, f.meaning)]))));
  section.replaceChildren(
    h("h2", {}, rule ? `Edit “${rule.description}”` : "New rule"),
    h("div", { class: "editor" },
      h("form", { class: "form", onsubmit: guard(save) },
        h("label", { for: "criteria" }, "Criteria"), criteria, caret, check,
        h("div", { class: "row" }, weight, group, cap, halfLife),
        h("div", { class: "row" }, description),
        h("div", { class: "row" }, enabled, h("label", { for: "enabled" }, "Enabled")),
        h("div", { class: "row" },
          h("button", { type: "button", class: "secondary", onclick: guard(preview) }, "Preview"),
          h("button", { type: "submit" }, "Save")),
        outcome),
      reference));
  if (rule) runCheck().catch((e) => say(e.message));
  criteria.focus();
}

function previewView(p) {
  const summary = `${p.changed} of ${p.leads_considered} leads would change: ${p.tier_up} up a tier, ${p.tier_down} down.` +
    (p.leads_left_out ? ` ${p.leads_left_out} lower-ranked leads were not tried.` : "");
  return h("div", { class: "preview" },
    h("p", {}, summary),
    p.leads.length
      ? scroller("Leads the change would move", h("table", { "aria-label": "Leads the change would move" },
        h("thead", {}, h("tr", {}, ["Lead", "Now", "Then"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, p.leads.map((l) => h("tr", {},
          h("td", {}, h("a", { href: `#/leads/${encodeURIComponent(l.lead_id)}` }, l.name)),
          h("td", {}, `${l.score} `, tierBadge(l.tier)),
          h("td", {}, `${l.new_score} `, tierBadge(l.new_tier)))))))
      : null);
}

function tiersForm(tiers) {
  const hot = h("input", { id: "tier-hot", type: "number", min: 1, max: 100, value: tiers.hot, required: true });
  const warm = h("input", { id: "tier-warm", type: "number", min: 0, max: 99, value: tiers.warm, required: true });
  const outcome = h("div", { "aria-live": "polite" });
  const body = () => ({ tiers: { hot: Number(hot.value), warm: Number(warm.value) } });
  const guard = (f) => (e) => f(e).catch((err) => outcome.replaceChildren(h("p", { class: "error", role: "alert" }, err.message)));
  return h("section", { "aria-labelledby": "tiers" },
    h("h2", { id: "tiers" }, "Tier thresholds"),
    h("form", { class: "row", onsubmit: guard(async (e) => {
      e.preventDefault();
      await api("/settings", { method: "PATCH", body: body() });
      say("Tiers saved. Every lead is being re-tiered.");
    }) },
    h("label", { for: "tier-hot" }, "Hot from"), hot,
    h("label", { for: "tier-warm" }, "Warm from"), warm,
    h("button", { type: "button", class: "secondary", onclick: guard(async () =>
      outcome.replaceChildren(previewView(await api("/scoring_rules/preview", { method: "POST", body: body() })))) }, "Preview"),
    h("button", { type: "submit" }, "Save")),
    outcome);
}

// ---- reports ------------------------------------------------------------------------------

async function reportsView() {
  document.title = "Reports · leadscore";
  const [distribution, conversion, gains, calibration, model, activity, touch, signals, agents] = await Promise.all(
    ["distribution", "conversion", "gains", "calibration", "model", "activity", "time_to_touch", "signals", "agents"]
      .map((r) => api(`/reports/${r}`)));
  const csv = (name) => h("a", { href: `/reports/${name}?format=csv`, download: `${name}.csv` }, "CSV");
  const card = (title, name, ...body) => h("figure", { class: "card", dataset: { report: name } },
    h("figcaption", {}, title, " · ", csv(name)), body);
  view.replaceChildren(
    h("h1", {}, "Reports"),
    h("div", { class: "cards" },
      card("Score distribution", "distribution",
        bars(distribution.bands.map((b) => [`${b.from}`, b.leads]), "leads"),
        h("p", {}, `${distribution.hot} hot, ${distribution.warm} warm, ${distribution.cold} cold, ${distribution.unscored} not yet scored`)),
      card("Conversion by score band", "conversion",
        bars(conversion.bands.map((b) => [`${b.from}`, b.conversion_rate === null ? 0 : Math.round(b.conversion_rate * 100)]), "% converted"),
        h("p", { class: "conversion-total" }, `${conversion.won} won, ${conversion.lost} lost, conversion ${percent(conversion.conversion_rate)}, value won ${conversion.value_won}`)),
      card("Cumulative gains", "gains",
        curve(gains.points.map((p) => [p.leads, p.conversions]), "share of leads worked, best first", "share of conversions"),
        h("p", {}, `${gains.won} conversions among ${gains.decided} decided leads`)),
      card("Calibration", "calibration",
        curve(calibration.deciles.map((d) => [d.predicted, d.converted]).sort((a, b) => a[0] - b[0]), "predicted", "observed", true),
        h("p", {}, calibration.model ? `Calibration error ${percent(calibration.calibration_error)}` : "No model yet: predictions come from the rules.")),
      card("Model", "model",
        h("dl", { class: "figures" }, [
          ["AUC", model.auc === null ? "–" : model.auc.toFixed(3)],
          ["Brier score", model.brier === null ? "–" : model.brier.toFixed(3)],
          [`Precision at hot (≥ ${model.hot_threshold})`, percent(model.precision)],
          ["Recall", percent(model.recall)],
          ["F1", model.f1.toFixed(3)],
          ["Decided leads", `${model.decided} (${model.won} won)`],
        ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
      card("Leads, calls and hot leads per week", "activity",
        groupedBars(activity.weeks.map((w) => [w.week.slice(5), [w.new_leads, w.calls, w.turned_hot]]),
          ["new leads", "calls", "turned hot"])),
      card("Time to the next call once hot", "time_to_touch",
        h("dl", { class: "figures" }, [
          ["Hot leads", touch.hot_leads],
          ["Called since", touch.touched],
          ["Waiting", touch.waiting],
          ["Median hours to the call", hoursText(touch.median_hours_to_touch)],
          ["90% called within", hoursText(touch.p90_hours_to_touch)],
          ["Within an hour / a day", `${touch.touched_within_1h} / ${touch.touched_within_24h}`],
        ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
        touch.longest_waiting.length
          ? h("div", {}, h("p", {}, "Waiting longest:"), h("ul", {}, touch.longest_waiting.map((w) =>
            h("li", {}, h("a", { href: `#/leads/${encodeURIComponent(w.lead_id)}` }, w.name), ` ${hoursText(w.hours)}`))))
          : null),
      card("Buying signals and objections, on calls and in texts", "signals",
        signalTable("Buying signals", signals.intents), signalTable("Objections", signals.objections),
        signals.texts.length
          ? scroller("From texts", h("table", { "aria-label": "From texts" },
            h("thead", {}, h("tr", {}, ["From texts", "Leads", "Converted"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, signals.texts.slice(0, 8).map((t) => h("tr", {},
              h("td", {}, t.kind.replaceAll("_", " ")), h("td", { class: "num" }, t.leads),
              h("td", { class: "num" }, t.won + t.lost ? `${t.won} of ${t.won + t.lost}` : "–"))))))
          : null),
      card("Agents", "agents",
        agents.agents.length
          ? scroller("Agents", h("table", { "aria-label": "Agents" },
            h("thead", {}, h("tr", {}, ["Agent", "Calls", "Leads", "Hot", "Won", "Value won", "Mood"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, agents.agents.map((a) => h("tr", {},
              h("td", {}, a.agent), h("td", { class: "num" }, a.calls), h("td", { class: "num" }, a.leads),
              h("td", { class: "num" }, a.hot_leads), h("td", { class: "num" }, `${a.won} (${percent(a.conversion_rate)})`),
              h("td", { class: "num" }, a.value_won),
              h("td", { class: "num" }, a.mean_customer_sentiment === null ? "–" : a.mean_customer_sentiment.toFixed(2)))))))
          : h("p", {}, "No call names its agent yet (the `agent` field of a call's metadata)."),
        agents.calls_without_agent ? h("p", { class: "muted" }, `${agents.calls_without_agent} calls name no agent.`) : null),
    ));
}

function hoursText(hours) {
  if (hours === null || hours === undefined) return "–";
  return hours < 48 ? `${Math.round(hours * 10) / 10} h` : `${Math.round(hours / 24)} days`;
}

function signalTable(title, list) {
  if (!list.length) return h("p", {}, `${title}: none heard yet.`);
  return scroller(title, h("table", { "aria-label": title },
    h("thead", {}, h("tr", {}, [title, "Calls", "Leads", "Converted"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.slice(0, 8).map((sig) => h("tr", {},
      h("td", {}, sig.kind.replaceAll("_", " ")), h("td", { class: "num" }, sig.calls), h("td", { class: "num" }, sig.leads),
      h("td", { class: "num" }, sig.won + sig.lost ? `${sig.won} of ${sig.won + sig.lost}` : "–"))))));
}

function groupedBars(data, series) {
  const w = 640, ht = 200, pad = 24, top = 18;
  const max = Math.max(1, ...data.flatMap(([, vs]) => vs));
  const gw = (w - pad) / Math.max(1, data.length);
  const bw = Math.max(2, (gw - 4) / series.length);
  const label = data.map(([k, vs]) => `${k}: ${vs.map((v, i) => `${v} ${series[i]}`).join(", ")}`).join("; ");
  return s("svg", { viewBox: `0 0 ${w} ${ht}`, width: "100%", role: "img", "aria-label": label },
    series.map((name, i) => [
      s("rect", { class: `bar s${i}`, x: pad + i * 100, y: 2, width: 10, height: 10 }),
      s("text", { x: pad + i * 100 + 14, y: 11 }, name),
    ]),
    data.map(([k, vs], g) => [
      vs.map((v, i) => {
        const bh = ((ht - pad - top) * v) / max;
        return s("rect", { class: `bar s${i}`, x: pad + g * gw + i * bw, y: ht - pad - bh, width: bw - 1, height: bh },
          s("title", {}, `${k}: ${v} ${series[i]}`));
      }),
      g % Math.ceil(data.length / 6) === 0 ? s("text", { x: pad + g * gw, y: ht - 8 }, k) : null,
    ]),
    s("line", { class: "axis", x1: pad, x2: w, y1: ht - pad, y2: ht - pad }));
}

function bars(data, unit) {
  const w = 320, ht = 150, pad = 24;
  const max = Math.max(1, ...data.map(([, v]) => v));
  const bw = (w - pad) / data.length;
  return s("svg", { viewBox: `0 0 ${w} ${ht}`, width: "100%", role: "img",
    "aria-label": data.map(([k, v]) => `${k}: ${v} ${unit}`).join(", ") },
  data.map(([k, v], i) => {
    const bh = ((ht - 2 * pad) * v) / max;
    return [
      s("rect", { class: "bar", x: pad + i * bw + 2, y: ht - pad - bh, width: bw - 4, height: bh }, s("title", {}, `${k}: ${v} ${unit}`)),
      s("text", { x: pad + i * bw + 2, y: ht - 8 }, k),
      v ? s("text", { x: pad + i * bw + 2, y: ht - pad - bh - 3 }, v) : null,
    ];
  }),
  s("line", { class: "axis", x1: pad, x2: w, y1: ht - pad, y2: ht - pad }));
}

function curve(data, xLabel, yLabel) {
  const w = 320, ht = 200, pad = 30;
  const x = (v) => pad + v * (w - 2 * pad);
  const y = (v) => ht - pad - v * (ht - 2 * pad);
  const pts = [[0, 0], ...data];
  return s("svg", { viewBox: `0 0 ${w} ${ht}`, width: "100%", role: "img",
    "aria-label": `${yLabel} by ${xLabel}: ${data.map(([a, b]) => `${percent(a)} → ${percent(b)}`).join(", ") || "no data yet"}` },
  s("line", { class: "axis", x1: pad, x2: w - pad, y1: y(0), y2: y(0) }),
  s("line", { class: "axis", x1: pad, x2: pad, y1: y(0), y2: y(1) }),
  s("line", { class: "ref", x1: x(0), y1: y(0), x2: x(1), y2: y(1) }),
  data.length ? s("polyline", { class: "line", points: pts.map(([a, b]) => `${x(a)},${y(b)}`).join(" ") }) : null,
  data.map(([a, b]) => s("circle", { class: "dot", cx: x(a), cy: y(b), r: 3 })),
  s("text", { x: pad, y: ht - 8 }, xLabel),
  s("text", { x: 2, y: 12 }, yLabel));
}

// Back from signing in (or not): then the view the address names. A sign-in that failed says
// why where it stays in view.
finishSignIn().catch((error) => {
  const notice = document.getElementById("notice");
  notice.textContent = error.message;
  notice.hidden = false;
}).finally(route);
