// Bilat dashboard: renders /api/state, follows /events (server-sent events).
// Every value from the data goes through textContent; only the server's charts (SVG it
// escaped itself) are inserted as markup.
"use strict";

const state = { summary: null, alerts: [], byKey: new Map(), filter: null };
const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(markup) {
  const box = h("div", { class: "chart-box" });
  box.innerHTML = markup; // built and escaped by the server (streams/runtime/dashboard/charts.py)
  return box;
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

const STATES = [
  ["agreed", "Agreed"], ["within-tolerance", "Within tolerance"],
  ["diverged", "Diverged"], ["waiting", "Waiting"],
];

// --- bilaterals ---------------------------------------------------------------------------

function renderBilaterals() {
  const root = $("bilaterals");
  root.replaceChildren();
  const summary = state.summary;
  const banner = $("banner");
  banner.hidden = !summary || !summary.error || summary.error === "starting";
  if (!banner.hidden) banner.textContent = `Cannot read the pipeline's state: ${summary.error}`;
  if (!summary || !summary.bilaterals.length) {
    root.append(h("p", { class: "empty" }, "Waiting for the first summary…"));
    return;
  }
  for (const b of summary.bilaterals) root.append(bilateral(b));
}

function bilateral(b) {
  const age = b.last_round_age_s;
  const stale = age === null || age > 120;
  const head = h("div", { class: "bilateral-head" },
    h("h2", {}, b.title),
    h("span", { class: "muted" }, b.agreement_id ? `agreement ${b.agreement_id}` : `app ${b.app}`),
    h("span", { class: stale ? "stale" : "muted",
                title: "When the reconciler last evaluated this bilateral" },
      age === null ? "reconciler has not reported yet" : `reconciled ${ago(age)}`));
  const tiles = h("div", { class: "tiles" }, STATES.map(([key, label]) =>
    h("div", { class: `tile ${key}`, "data-state": key },
      h("b", {}, b.totals.states[key] || 0), `${label} windows`)));
  const money = h("div", { class: "money" });
  if (!b.totals.money.length) money.append(h("span", { class: "muted" }, "No money reconciled yet"));
  for (const m of b.totals.money) {
    const share = Math.max(0, Math.min(1, m.agreed_share));
    money.append(
      h("b", {}, m.currency),
      h("div", { class: "moneybar", title: `${m.agreed} agreed, ${m.at_stake} at stake` },
        h("span", { class: "a", style: null }), h("span", { class: "s" })),
      h("div", { class: "moneytext" },
        h("span", { "data-money": "agreed" }, `${m.agreed} ${m.currency} agreed`), " · ",
        h("span", { "data-money": "at-stake" }, `${m.at_stake} ${m.currency} at stake`)));
    const bar = money.querySelectorAll(".moneybar");
    const last = bar[bar.length - 1];
    last.children[0].style.width = `${(share * 100).toFixed(1)}%`;
    last.children[1].style.width = `${((1 - share) * 100).toFixed(1)}%`;
  }
  return h("article", { class: "card bilateral", "data-app": b.app },
    head, tiles, money,
    h("h3", {}, "Windows"), grid(b),
    h("div", { class: "charts" },
      h("div", {}, h("h3", {}, "Money at stake per window"), svg(b.stake_chart)),
      h("div", {}, h("h3", {}, `Divergences by class (${b.alerts_total})`), svg(b.class_chart))),
    h("h3", {}, "Statements"), bills(b));
}

function grid(b) {
  const g = b.grid;
  if (!g.rows.length) {
    return h("p", { class: "empty" },
      "No window reconciled yet: windows appear once both parties have anchored them.");
  }
  const legend = h("div", { class: "legend" }, STATES.map(([key, label]) =>
    h("span", {}, h("i", { class: `cell ${key}` }), label)));
  const table = h("table", { class: "grid", "aria-label": "Windows by day and time (UTC)" });
  if (g.column_labels.length) {
    const every = Math.max(1, Math.round(g.columns / 12));
    table.append(h("thead", {}, h("tr", {}, h("th", {}),
      g.column_labels.map((l, i) => h("th", {}, i % every === 0 ? l : "")))));
  }
  const body = h("tbody");
  for (const row of g.rows) {
    const cells = new Array(g.columns).fill(null);
    for (const c of row.cells) cells[c.column] = c;
    body.append(h("tr", {}, h("th", {}, row.day), cells.map((c) => h("td", {}, c
      ? h("button", {
          class: `cell ${c.state}`, "data-window": c.id, "data-state": c.state,
          title: `${c.label} UTC — ${c.state_label}${c.detail ? ` (${c.detail})` : ""}\n` +
            `${c.records} records, ${c.divergent_records} divergent\n` +
            `agreed ${c.money_agreed} ${c.currency}, at stake ${c.at_stake} ${c.currency}`,
          onclick: () => setFilter({ window: c.id, label: `window ${c.label}` }),
        })
      : h("span", { class: "cell", title: "no window" })))));
  }
  table.append(body);
  return h("div", {}, legend, table);
}

function bills(b) {
  if (!b.bills.length) {
    return h("p", { class: "empty", id: `bills-empty-${b.app}` },
      "No statements yet. A statement appears here once a billing period is closed and the " +
      `Seller's bill is built (bilat settle); the dashboard reads ${b.bills_key}.`);
  }
  const rows = b.bills.map((bill) => h("tr", { "data-bill": bill.bill_id },
    h("td", {}, h("b", {}, bill.bill_no), h("div", { class: "muted" }, bill.role)),
    h("td", {}, bill.period),
    h("td", {}, h("span", { class: `badge ${bill.state}` }, bill.state_label)),
    h("td", { class: "num" }, `${bill.amount_due} ${bill.currency}`),
    h("td", { class: "num" }, bill.remaining ? `${bill.remaining} ${bill.currency}` : "—"),
    h("td", {}, bill.item_states.map((s) =>
      h("span", { class: `badge ${s.state}` }, `${s.count} ${s.label}`)), ` of ${bill.items}`),
    h("td", {}, bill.disputes.length ? bill.disputes.map((d) => h("div", {},
      h("span", { class: `badge ${d.state}` }, d.state_label), " ",
      `${d.dispute_id}: ${d.items.length} item(s)`, d.reason ? ` — ${d.reason}` : "")) : "none")));
  return h("table", { class: "list bills" },
    h("thead", {}, h("tr", {}, ["Bill", "Period", "State", "Amount due", "Remaining", "Items",
      "Disputes"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows));
}

// --- alerts -------------------------------------------------------------------------------

function key(a) { return `${a.app}/${a.alert_id}`; }

function matches(a) {
  const f = state.filter;
  if (!f) return true;
  if (f.window) return a.window === f.window;
  if (f.record) return a.record_keys.includes(f.record);
  return true;
}

function alertItem(a, fresh) {
  return h("li", {
      class: `alert ${a.severity}${fresh ? " new" : ""}`, tabindex: "0",
      "data-alert-id": a.alert_id, "data-kind": a.kind,
      onclick: () => openAlert(a), onkeydown: (e) => { if (e.key === "Enter") openAlert(a); },
    },
    h("div", { class: "row1" },
      h("span", { class: "kind" }, a.kind_label),
      h("span", { class: "stake" }, a.at_stake ? `${a.at_stake} ${a.currency || ""} at stake` : "")),
    h("div", { class: "row2" },
      `${a.partner ? `${a.party} ↔ ${a.partner} · ` : ""}${a.window_label}`,
      a.record_keys.length ? ` · ${a.record_keys.join(", ")}` : ""),
    h("div", { class: "row2" }, a.detail));
}

function renderAlerts() {
  const list = $("alert-feed");
  const shown = state.alerts.filter(matches);
  list.replaceChildren(...shown.map((a) => alertItem(a, a._fresh)));
  for (const a of shown) a._fresh = false;
  $("feed-empty").hidden = shown.length > 0;
  $("alert-count").textContent = `(${shown.length}${state.filter ? " shown" : ""})`;
}

function addAlert(a) {
  const k = key(a);
  if (state.byKey.has(k)) return;
  a._fresh = true;
  state.byKey.set(k, a);
  state.alerts.unshift(a);
  if (state.alerts.length > 1000) state.byKey.delete(key(state.alerts.pop()));
  if (!matches(a)) return;
  const list = $("alert-feed");
  list.prepend(alertItem(a, true));
  a._fresh = false;
  $("feed-empty").hidden = true;
  $("alert-count").textContent = `(${list.children.length}${state.filter ? " shown" : ""})`;
}

function setFilter(f) {
  state.filter = f;
  const box = $("filter");
  box.hidden = !f;
  box.replaceChildren();
  if (f) box.append(f.label, h("button", { "aria-label": "Clear filter", onclick: clearFilter }, "✕"));
  $("record-box").hidden = !(f && f.record);
  if (f && f.record) showRecord(f.record);
  renderAlerts();
}

function clearFilter() {
  if (location.hash) history.replaceState(null, "", location.pathname);
  setFilter(null);
}

async function showRecord(record) {
  const box = $("record-box");
  const party = state.alerts.find((a) => a.record_keys.includes(record))?.party || "<party>";
  box.replaceChildren(
    h("b", {}, `Record ${record}`),
    h("div", { class: "muted" }, "Every alert that names this record is listed below. Prove it " +
      "end to end (leaf, inclusion proof, signed anchor, chain) with:"),
    h("code", {}, `bilat verify ${record} --party ${party}`));
  // Older alerts than those loaded: ask the server for every one naming the record.
  const res = await fetch(`/api/alerts?record=${encodeURIComponent(record)}&limit=500`);
  if (res.ok) {
    for (const a of (await res.json()).alerts.reverse()) {
      if (!state.byKey.has(key(a))) { state.byKey.set(key(a), a); state.alerts.push(a); }
    }
    renderAlerts();
  }
}

// --- drill-down ---------------------------------------------------------------------------

function proofBox(title, p) {
  if (!p) return h("div", { class: "proof" }, h("h3", {}, title), h("p", { class: "muted" },
    "No proof on this side: the record is not in this side's anchored batch."));
  if (p.error) return h("div", { class: "proof" }, h("h3", {}, title), h("p", {}, p.error));
  const marks = { ok: "✓ proof holds", failed: "✗ proof does not hold", unchecked: "not checked" };
  const path = (name, hashes) => h("details", {},
    h("summary", {}, `${name}: ${hashes.length} hash${hashes.length === 1 ? "" : "es"}`),
    h("ol", { class: "path mono" }, hashes.map((x) => h("li", {}, x))));
  return h("div", { class: "proof", "data-proof": title },
    h("h3", {}, title),
    h("div", { class: `check ${p.check}` }, marks[p.check] || p.check),
    h("div", { class: "muted" }, p.check_detail),
    h("dl", {},
      h("dt", {}, "record"), h("dd", {}, recordLink(p.usage_key)),
      h("dt", {}, "anchor"), h("dd", {}, `#${p.anchor_sequence}`),
      h("dt", {}, "anchored root"), h("dd", { class: "mono" }, p.root),
      h("dt", {}, "leaf hash"), h("dd", { class: "mono" }, p.leaf_hash),
      h("dt", {}, "bucket"), h("dd", {}, `${p.bucket}`),
      h("dt", {}, "position"), h("dd", {}, `leaf ${p.index + 1} of ${p.bucket_size}`)),
    path("path in bucket", p.bucket_path), path("path to root", p.top_path));
}

function recordLink(record) {
  if (!record) return "—";
  return h("a", { href: `#record=${encodeURIComponent(record)}`, class: "record-link",
                  onclick: () => $("drilldown").close() }, record);
}

async function openAlert(a) {
  const dialog = $("drilldown");
  render(a);
  if (!dialog.open) dialog.showModal();
  // The feed's copy is complete; fetch again so a proof is checked by the current server.
  const res = await fetch(`/api/alerts/${encodeURIComponent(a.app)}/${encodeURIComponent(a.alert_id)}`);
  if (res.ok && dialog.open) render(await res.json());

  function render(x) {
    const sides = h("table", { class: "sides" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, `here (${x.party})`),
        h("th", {}, `partner (${x.partner})`))),
      h("tbody", {},
        h("tr", { class: x.here_value !== x.partner_value ? "differs" : "" },
          h("td", {}, "value"), h("td", {}, x.here_value ?? "—"), h("td", {}, x.partner_value ?? "—")),
        x.facts.map((f) => h("tr", { class: f.differs ? "differs" : "" },
          h("td", {}, f.field), h("td", {}, f.here), h("td", {}, f.partner)))));
    $("dd-body").replaceChildren(
      h("h2", { id: "dd-title" }, x.kind_label, " ", h("span", { class: "muted" }, `(${x.severity})`)),
      h("p", {}, x.detail),
      h("p", { class: "muted" },
        `${x.party} ↔ ${x.partner} · agreement ${x.agreement_id} · window ${x.window_label} ` +
        `rev ${x.revision} · detected ${x.detected} UTC`,
        x.delta ? ` · difference ${x.delta}` : "",
        x.at_stake ? ` · ${x.at_stake} ${x.currency || ""} at stake` : ""),
      h("p", {}, "Records: ", x.record_keys.length
        ? x.record_keys.flatMap((r, i) => (i ? [", ", recordLink(r)] : [recordLink(r)]))
        : "none (a window or ledger finding)"),
      sides,
      h("div", { class: "proofs" },
        proofBox(`Proof here (${x.party})`, x.here_proof),
        proofBox(`Proof at partner (${x.partner})`, x.partner_proof)),
      h("p", { class: "muted" }, "Alert ", h("code", {}, x.alert_id), " · ",
        h("a", { href: `/api/alerts/${encodeURIComponent(x.app)}/${encodeURIComponent(x.alert_id)}`,
                 target: "_blank" }, "JSON")));
  }
}

// --- loading and following ----------------------------------------------------------------

async function load() {
  const res = await fetch("/api/state");
  const data = await res.json();
  state.summary = data.summary;
  state.alerts = data.alerts;
  state.byKey = new Map(data.alerts.map((a) => [key(a), a]));
  renderBilaterals();
  renderAlerts();
}

function follow() {
  const live = $("live");
  const source = new EventSource("/events");
  source.addEventListener("open", () => {
    live.className = "pill live";
    live.textContent = "live";
  });
  source.addEventListener("error", () => {
    live.className = "pill down";
    live.textContent = "reconnecting…";
    source.addEventListener("open", () => load(), { once: true }); // catch up on what was missed
  });
  source.addEventListener("alert", (e) => addAlert(JSON.parse(e.data)));
  source.addEventListener("summary", (e) => { state.summary = JSON.parse(e.data); renderBilaterals(); });
  source.addEventListener("resync", () => load());
}

function route() {
  const m = location.hash.match(/^#record=(.+)$/);
  if (m) setFilter({ record: decodeURIComponent(m[1]), label: `record ${decodeURIComponent(m[1])}` });
}

window.addEventListener("hashchange", route);
load().then(route).finally(follow);
