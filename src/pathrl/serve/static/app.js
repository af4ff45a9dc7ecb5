// pathrl playground: question -> POST /route (top-k routes) -> POST /query (rows), the route
// drawn on the schema graph from GET /schema. Plain browser JS, no build step, no network
// beyond this server. Every value from the server reaches the page as text (textContent),
// never as HTML.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "pathrl-token";
const BOX_HEIGHT = 34;
const GAP_X = 70;
const GAP_Y = 18;
const PAD = 16;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  schema: null,
  joinsByPath: new Map(), // path id -> [{from: "t.f", to: "t.f"}], from GET /paths
  question: "",
  routes: [],
  entity: null, // the entity value /route found (reused when another route is clicked)
  activePath: null,
  busy: false,
};

const $ = (id) => document.getElementById(id);

// ---- HTTP -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function detailText(payload, response) {
  const detail = payload && payload.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    // FastAPI request validation: [{loc: ["body", "question"], msg: "..."}]
    return detail.map((d) => {
      const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
      return where ? `${where}: ${d.msg}` : String(d.msg);
    }).join("; ");
  }
  if (detail) return JSON.stringify(detail);
  return `${response.status} ${response.statusText || "error"}`;
}

async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server (${err.message})`);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (_err) {
    payload = null; // not JSON: the status line says enough
  }
  if (!response.ok) throw new ApiError(response.status, detailText(payload, response));
  return payload;
}

// ---- messages ---------------------------------------------------------------------------------

function showError(err) {
  const box = $("error");
  const prefix = err.status ? `Error ${err.status}: ` : "Error: ";
  box.textContent = prefix + err.message;
  box.hidden = false;
  if (err.status === 401 || err.status === 403) {
    $("auth").hidden = false;
    $("token").focus();
  }
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setBusy(busy) {
  state.busy = busy;
  $("ask").disabled = busy;
  $("ask").textContent = busy ? "Asking…" : "Ask";
  for (const button of document.querySelectorAll("#routes-list button")) button.disabled = busy;
}

// ---- schema graph -----------------------------------------------------------------------------

// Layered layout, deterministic: per connected component, breadth-first layers from its
// best-connected table (ties: schema order); within a layer, tables sit in the order of the mean
// position of their neighbours in the previous layer (fewer crossings). Layers are columns;
// components are stacked. BFS layers only link neighbouring or equal layers.
function layoutSchema(tables, relations) {
  const names = tables.map((t) => t.name);
  const order = new Map(names.map((n, i) => [n, i]));
  const neighbours = new Map(names.map((n) => [n, new Set()]));
  for (const r of relations) {
    if (!neighbours.has(r.from_table) || !neighbours.has(r.to_table)) continue;
    if (r.from_table === r.to_table) continue;
    neighbours.get(r.from_table).add(r.to_table);
    neighbours.get(r.to_table).add(r.from_table);
  }
  const degree = (n) => neighbours.get(n).size;
  const byImportance = (a, b) => degree(b) - degree(a) || order.get(a) - order.get(b);

  const maxRows = Math.max(8, Math.ceil(Math.sqrt(names.length) * 1.5));
  const cell = new Map(); // table -> {col, row}
  let rowOffset = 0;
  let columns = 0;
  const unplaced = new Set(names);
  while (unplaced.size) {
    const root = [...unplaced].sort(byImportance)[0];
    const layers = [[root]];
    const seen = new Set([root]);
    for (;;) {
      const next = [];
      for (const n of layers[layers.length - 1]) {
        for (const m of [...neighbours.get(n)].sort(byImportance)) {
          if (!seen.has(m)) { seen.add(m); next.push(m); }
        }
      }
      if (!next.length) break;
      layers.push(next);
    }
    const index = new Map([[root, 0]]);
    for (let k = 1; k < layers.length; k++) {
      const centre = (n) => {
        const prev = [...neighbours.get(n)].filter((m) => layers[k - 1].includes(m));
        return prev.reduce((s, m) => s + index.get(m), 0) / Math.max(prev.length, 1);
      };
      const centres = new Map(layers[k].map((n) => [n, centre(n)]));
      layers[k].sort((a, b) => centres.get(a) - centres.get(b) || byImportance(a, b));
      layers[k].forEach((n, i) => index.set(n, i));
    }
    // A layer taller than maxRows (a hub table's many neighbours) wraps into more columns.
    const height = (layer) => Math.min(layer.length, maxRows);
    const band = Math.max(...layers.map(height));
    let col = 0;
    for (const layer of layers) {
      const rows = height(layer);
      layer.forEach((n, i) => {
        cell.set(n, {
          col: col + Math.floor(i / rows),
          row: rowOffset + (i % rows) + (band - rows) / 2,
        });
        unplaced.delete(n);
      });
      col += Math.ceil(layer.length / rows);
    }
    rowOffset += band;
    columns = Math.max(columns, col);
  }
  const longest = Math.max(8, ...names.map((n) => n.length));
  const boxWidth = Math.round(longest * 7.4 + 24);
  const position = new Map();
  for (const [n, c] of cell) {
    position.set(n, {
      x: PAD + c.col * (boxWidth + GAP_X),
      y: PAD + c.row * (BOX_HEIGHT + GAP_Y),
      col: c.col,
    });
  }
  return {
    position,
    boxWidth,
    width: PAD * 2 + columns * boxWidth + Math.max(columns - 1, 0) * GAP_X,
    height: PAD * 2 + rowOffset * BOX_HEIGHT + Math.max(rowOffset - 1, 0) * GAP_Y,
  };
}

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function edgePath(a, b, w) {
  if (a.col === b.col) { // same layer: an arc out to the right
    const x = a.x + w;
    const bulge = 28 + Math.abs(a.y - b.y) * 0.15;
    const ya = a.y + BOX_HEIGHT / 2;
    const yb = b.y + BOX_HEIGHT / 2;
    return `M ${x} ${ya} C ${x + bulge} ${ya}, ${x + bulge} ${yb}, ${x} ${yb}`;
  }
  const [left, right] = a.col < b.col ? [a, b] : [b, a];
  const x1 = left.x + w;
  const x2 = right.x;
  const y1 = left.y + BOX_HEIGHT / 2;
  const y2 = right.y + BOX_HEIGHT / 2;
  const mid = (x1 + x2) / 2;
  return `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`;
}

function drawSchema(schema) {
  const graph = $("schema-graph");
  graph.replaceChildren();
  const layout = layoutSchema(schema.tables, schema.relations);
  graph.setAttribute("viewBox", `0 0 ${layout.width} ${layout.height}`);
  graph.setAttribute("width", layout.width);
  graph.setAttribute("height", layout.height);
  // A large schema keeps its size (the box scrolls) instead of shrinking to unreadable text.
  graph.classList.toggle("large", layout.width > 1400);
  const edges = svg("g", { class: "edges" }, graph);
  const nodes = svg("g", { class: "nodes" }, graph);
  for (const r of schema.relations) {
    const a = layout.position.get(r.from_table);
    const b = layout.position.get(r.to_table);
    if (!a || !b || r.from_table === r.to_table) continue;
    // GET /schema names the columns as "table.field" in `from` / `to`.
    const from = r.from || `${r.from_table}.${r.from_field}`;
    const to = r.to || `${r.to_table}.${r.to_field}`;
    const edge = svg("path", {
      class: "edge", d: edgePath(a, b, layout.boxWidth), "data-from": from, "data-to": to,
    }, edges);
    const title = svg("title", {}, edge);
    title.textContent = `${from} → ${to}` +
      (r.cardinality ? ` (${r.cardinality.replaceAll("_", " ")})` : "");
  }
  for (const t of schema.tables) {
    const p = layout.position.get(t.name);
    const node = svg("g", {
      class: "node", "data-table": t.name, transform: `translate(${p.x} ${p.y})`,
    }, nodes);
    svg("rect", { width: layout.boxWidth, height: BOX_HEIGHT, rx: 6 }, node);
    const label = svg("text", { x: layout.boxWidth / 2, y: BOX_HEIGHT / 2 + 4.5 }, node);
    label.textContent = t.name;
    const fields = (t.fields || []).map((f) => `${f.name}: ${f.type}`).join("\n");
    svg("title", {}, node).textContent = `${t.name} (key ${t.key}, shown as ${t.display})\n${fields}`;
    const badge = svg("g", { class: "badge" }, node);
    svg("circle", { cx: 0, cy: 0, r: 9 }, badge);
    svg("text", { x: 0, y: 4 }, badge);
  }
}

function pathTables(route) {
  if (!route) return [];
  const via = route.via || [];
  if (!via.length && route.anchor === route.target) return [route.anchor];
  return [route.anchor, ...via, route.target];
}

// Nodes on the route get their role (anchor / via / target) and step number; edges on the route
// are the relations its joins use (from GET /paths), or, without them, the relations linking
// consecutive tables of the route.
function highlightRoute(route) {
  const tables = pathTables(route);
  for (const node of document.querySelectorAll("#schema-graph .node")) {
    const name = node.dataset.table;
    const step = tables.indexOf(name);
    node.classList.remove("on-path", "anchor", "via", "target");
    node.querySelector(".badge text").textContent = step >= 0 ? String(step + 1) : "";
    if (step < 0) continue;
    const role = step === 0 ? "anchor" : step === tables.length - 1 ? "target" : "via";
    node.classList.add("on-path", role);
  }
  const joins = route ? state.joinsByPath.get(route.path) : undefined;
  const joinKeys = new Set((joins || []).flatMap((j) => [`${j.from}|${j.to}`, `${j.to}|${j.from}`]));
  const pairs = new Set();
  for (let i = 0; i + 1 < tables.length; i++) {
    pairs.add(`${tables[i]}|${tables[i + 1]}`);
    pairs.add(`${tables[i + 1]}|${tables[i]}`);
  }
  for (const edge of document.querySelectorAll("#schema-graph .edge")) {
    const { from, to } = edge.dataset;
    const onPath = joins
      ? joinKeys.has(`${from}|${to}`)
      : pairs.has(`${from.split(".")[0]}|${to.split(".")[0]}`);
    edge.classList.toggle("on-path", onPath);
  }
  // Draw highlighted edges last so they sit above the others.
  const edgeGroup = document.querySelector("#schema-graph .edges");
  if (edgeGroup) {
    for (const edge of edgeGroup.querySelectorAll(".edge.on-path")) edgeGroup.appendChild(edge);
  }
  scrollToTable(tables[0]);
}

// A large graph scrolls inside its box: bring the route's anchor into view (the page stays put).
function scrollToTable(name) {
  const graph = $("schema-graph");
  if (!name || !graph.classList.contains("large")) return;
  const node = graph.querySelector(`.node[data-table="${CSS.escape(name)}"]`);
  if (!node) return;
  const box = graph.parentElement;
  const at = node.getBoundingClientRect();
  const frame = box.getBoundingClientRect();
  box.scrollLeft += at.left - frame.left - (box.clientWidth - at.width) / 2;
  box.scrollTop += at.top - frame.top - (box.clientHeight - at.height) / 2;
}

// ---- routes -----------------------------------------------------------------------------------

function routeLabel(route) {
  return pathTables(route).join(" → ");
}

function renderRoutes() {
  const list = $("routes-list");
  list.replaceChildren();
  $("routes-empty").hidden = state.routes.length > 0;
  if (!state.routes.length && state.question) {
    $("routes-empty").textContent = "The router found no legal route for this question.";
  }
  for (const route of state.routes) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "route";
    button.dataset.path = route.path;
    const active = route.path === state.activePath;
    button.classList.toggle("active", active);
    button.setAttribute("aria-pressed", String(active));
    const label = document.createElement("span");
    label.className = "route-label";
    label.textContent = routeLabel(route);
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.className = "fill";
    const percent = Math.max(0, Math.min(1, Number(route.probability) || 0)) * 100;
    fill.style.width = `${percent.toFixed(1)}%`;
    bar.appendChild(fill);
    const prob = document.createElement("span");
    prob.className = "prob";
    prob.textContent = `${percent.toFixed(1)}%`;
    button.append(label, bar, prob);
    button.title = `run route ${route.path}`;
    button.addEventListener("click", () => runPath(route.path));
    item.appendChild(button);
    list.appendChild(item);
  }
}

// ---- answer -----------------------------------------------------------------------------------

function cellText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function renderRows(rows) {
  const box = $("rows");
  box.replaceChildren();
  if (!rows.length) return;
  const columns = [];
  for (const row of rows) for (const key of Object.keys(row)) {
    if (!columns.includes(key)) columns.push(key);
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const c of columns) {
      const td = tr.insertCell();
      const value = row[c];
      td.textContent = cellText(value);
      if (value === null || value === undefined) td.className = "null";
      else if (typeof value === "number") td.className = "num";
    }
  }
  box.appendChild(table);
}

function renderAnswer(answer) {
  const status = $("status");
  status.textContent = answer.status || "";
  status.className = `status status-${answer.status || "none"}`;
  $("message").textContent = answer.message || "";

  // How the question was read (null for a path run as is, absent on older servers).
  const intent = answer.intent;
  const unparsed = (intent && intent.unparsed) || [];
  $("intent").hidden = !intent;
  $("intent").textContent = !intent ? "" : `Read as: ${intent.description}` +
    (unparsed.length
      ? ` · not understood: ${unparsed.map((u) => `"${u.phrase}" (${u.reason})`).join(", ")}`
      : "");

  const suggestions = $("suggestions");
  suggestions.replaceChildren();
  const names = answer.suggestions || [];
  suggestions.hidden = !names.length || !answer.route;
  if (names.length && answer.route) {
    suggestions.append("Try: ");
    for (const name of names) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.textContent = name;
      chip.addEventListener("click", () => runPath(answer.route.path, name));
      suggestions.appendChild(chip);
    }
  }

  $("query-box").hidden = !answer.query;
  $("query").textContent = answer.query || "";
  $("language").textContent = (answer.language || "").toUpperCase();
  $("language").hidden = !answer.language;
  $("elapsed").textContent = answer.elapsed_ms != null ? `${answer.elapsed_ms} ms` : "";

  const rows = answer.rows || [];
  const summary = $("rows-summary");
  if (answer.error) {
    summary.textContent = "";
  } else if (rows.length) {
    const count = answer.count != null ? answer.count : rows.length;
    summary.textContent = answer.truncated
      ? `${count} rows, showing the first ${rows.length} (truncated)`
      : `${count} row${count === 1 ? "" : "s"}`;
  } else {
    summary.textContent = answer.query ? "no rows" : "";
  }
  summary.classList.toggle("truncated", Boolean(answer.truncated));
  renderRows(rows);

  state.activePath = answer.route ? answer.route.path : null;
  renderRoutes();
  highlightRoute(answer.route);
}

// ---- actions ----------------------------------------------------------------------------------

async function ask(question, topK) {
  clearError();
  setBusy(true);
  try {
    const routed = await api("POST", "route", { question, top_k: topK });
    const result = (routed.results || [])[0] || { routes: [], entity: null };
    state.question = question;
    state.routes = result.routes || [];
    const found = result.entity;
    state.entity = null;
    state.activePath = null;
    renderRoutes();
    highlightRoute(state.routes[0] || null);
    const answer = await api("POST", "query", { question });
    // Another route is run with the entity the question names: its display value when the
    // top route's anchor table holds it, else the question's words (a route with another
    // anchor then answers entity_not_found with the closest values of its own anchor).
    state.entity = (found && (found.value || found.mention)) || answer.entity || answer.mention ||
      null;
    renderAnswer(answer);
  } catch (err) {
    showError(err);
  } finally {
    setBusy(false);
  }
}

async function runPath(path, entity) {
  if (state.busy) return;
  clearError();
  setBusy(true);
  try {
    const chosen = entity !== undefined ? entity : state.entity;
    const answer = await api("POST", "query", { path, entity: chosen });
    if (entity !== undefined) state.entity = entity; // a picked suggestion: keep it for other routes
    renderAnswer(answer);
  } catch (err) {
    showError(err);
  } finally {
    setBusy(false);
  }
}

async function loadSchema() {
  try {
    state.schema = await api("GET", "schema");
    $("schema-name").textContent = state.schema.name || "";
    drawSchema(state.schema);
    if (state.token) { // accepted: fold the token form away (the header button reopens it)
      $("auth").hidden = true;
      $("token-toggle").hidden = false;
    }
  } catch (err) {
    if (err.status === 401 && !state.token) {
      err.message = "this server needs an API token: enter it above";
    }
    showError(err);
    return;
  }
  try {
    const listed = await api("GET", "paths");
    const paths = Array.isArray(listed) ? listed : (listed && listed.paths) || [];
    for (const p of paths) if (p.id && Array.isArray(p.joins)) state.joinsByPath.set(p.id, p.joins);
  } catch (_err) {
    // The join list only sharpens edge highlighting; consecutive tables are the fallback.
  }
}

async function loadHealth() {
  try {
    const health = await api("GET", "health");
    const parts = [];
    if (health.schema) parts.push(`schema ${health.schema}`);
    if (health.tables != null) parts.push(`${health.tables} tables`);
    if (health.paths != null) parts.push(`${health.paths} legal paths`);
    if (health.backend) parts.push(health.backend);
    if (health.model) parts.push(`router ${health.model}`);
    $("server-info").textContent = parts.join(" · ");
  } catch (_err) {
    // Only the header line needs /health; /schema reports a server that cannot be reached.
  }
}

function useToken() {
  state.token = $("token").value.trim();
  if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
  else sessionStorage.removeItem(TOKEN_KEY);
  clearError();
  loadSchema(); // also checks the token: a wrong one is reported at once
}

function init() {
  $("token").value = state.token;
  $("token-toggle").addEventListener("click", () => {
    $("auth").hidden = !$("auth").hidden;
    if (!$("auth").hidden) $("token").focus();
  });
  $("auth").addEventListener("submit", (e) => {
    e.preventDefault();
    useToken();
  });
  $("ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const question = $("question").value.trim();
    if (!question || state.busy) return;
    if ($("token").value.trim() !== state.token) useToken();
    ask(question, Number($("top-k").value));
  });
  loadHealth();
  loadSchema();
}

document.addEventListener("DOMContentLoaded", init);
