// EVCharging status page: keeps the server-rendered page current from the
// server-sent event stream (/api/stream), falling back to polling /api/state,
// and sends operator actions through the JSON API with the page's CSRF token.
// Everything is written with textContent: nothing from the server is parsed as HTML.
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const grid = $("#tiles");
  if (!grid) return;
  const template = $("#tile-template");
  const csrfToken = $('meta[name="csrf-token"]').content;
  const filters = { states: new Set(), text: "" };

  // --- formatting -------------------------------------------------------------------
  const fixed = (value, places) => (value === null || value === undefined || value === "" ? "–" : Number(value).toFixed(places));
  const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "");
  const ago = (iso) => {
    const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (seconds < 10) return "just now";
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return new Date(iso).toLocaleDateString();
  };
  const setText = (node, text) => { if (node && node.textContent !== text) node.textContent = text; };

  // --- tiles --------------------------------------------------------------------------
  function tileFor(cp) {
    let tile = grid.querySelector(`[data-cp="${CSS.escape(cp.cp_id)}"]`);
    if (tile) return tile;
    tile = template.content.firstElementChild.cloneNode(true);
    tile.dataset.cp = cp.cp_id;
    for (const form of $$("form", tile)) {
      const action = form.classList.contains("act-stop") ? "stop" : "resume";
      const id = encodeURIComponent(cp.cp_id);
      form.action = `/cps/${id}/${action}`;
      form.dataset.api = `/api/cps/${id}/${action}`;
    }
    const next = $$(".tile", grid).find((other) => other.dataset.cp > cp.cp_id);
    grid.insertBefore(tile, next || null);
    return tile;
  }

  function renderTile(cp) {
    const tile = tileFor(cp);
    tile.dataset.state = cp.state;
    tile.dataset.source = cp.source;
    tile.dataset.verified = String(cp.verified !== false);
    const field = (name) => $(`[data-field="${name}"]`, tile);
    setText(field("cp_id"), cp.cp_id);
    setText(field("label"), cp.label);
    setText(field("location"), cp.location);
    setText(field("price"), fixed(cp.price_per_kwh, 3));
    setText(field("driver_id"), cp.driver_id || "");
    setText(field("kw"), fixed(cp.kw, 2));
    setText(field("kwh"), fixed(cp.kwh, 3));
    setText(field("eur"), fixed(cp.eur, 2));
    setText(field("charging_time"), cp.charging_time || "–");
    setText(field("time_note"), cp.time_note || "");
    field("time_note").hidden = !cp.time_note;
    const since = $("[data-field-since]", tile);
    since.dateTime = cp.since;
    since.title = `In this state since ${new Date(cp.since).toLocaleString()}`;
    setText(since, ago(cp.since));
  }

  function applyFilters() {
    let shown = 0;
    for (const tile of $$(".tile", grid)) {
      const text = `${tile.dataset.cp} ${$('[data-field="location"]', tile).textContent}`.toLowerCase();
      const visible = (!filters.states.size || filters.states.has(tile.dataset.state)) && text.includes(filters.text);
      tile.hidden = !visible;
      if (visible) shown += 1;
    }
    $("#no-tiles").hidden = shown > 0;
  }

  // --- panels -------------------------------------------------------------------------
  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  const matches = (...texts) => !filters.text || texts.some((t) => (t || "").toLowerCase().includes(filters.text));

  function renderRequests(all) {
    const requests = all.filter((r) => matches(r.cp_id, r.driver_id));
    const body = $("#requests");
    const rows = requests.map((r) => {
      const tr = document.createElement("tr");
      const status = document.createElement("td");
      const tag = document.createElement("span");
      tag.className = `tag tag-${r.status}`;
      tag.textContent = r.status;
      status.append(tag);
      tr.append(cell(r.driver_id), cell(r.cp_id), status, cell(fixed(r.kwh, 3), "right"), cell(fixed(r.eur, 2), "right"), cell(clock(r.since), "right"));
      return tr;
    });
    body.replaceChildren(...rows);
    $("#requests-empty").hidden = requests.length > 0;
    setText($("#requests-count"), String(requests.length));
  }

  function renderEvents(all) {
    const events = all.filter((e) => matches(e.text));
    const items = events.map((e) => {
      const li = document.createElement("li");
      li.className = `event event-${e.level}`;
      const time = document.createElement("time");
      time.dateTime = e.at;
      time.textContent = clock(e.at);
      const text = document.createElement("span");
      text.textContent = e.text;
      li.append(time, text);
      return li;
    });
    $("#events").replaceChildren(...items);
    $("#events-empty").hidden = events.length > 0;
  }

  let lastVersion = -1;
  let lastState = null;
  function render(state) {
    if (state.version === lastVersion) return;
    lastVersion = state.version;
    lastState = state;
    const ids = new Set(state.cps.map((cp) => cp.cp_id));
    for (const tile of $$(".tile", grid)) if (!ids.has(tile.dataset.cp)) tile.remove();
    state.cps.forEach(renderTile);
    for (const [key, value] of Object.entries(state.summary)) {
      for (const node of $$(`[data-count="${key}"]`)) setText(node, String(value));
    }
    const updated = $("#updated-at");
    updated.dateTime = state.generated_at;
    setText(updated, clock(state.generated_at));
    renderRequests(state.requests);
    renderEvents(state.events);
    feedStatus(state.feed.connected ? (state.feed.caught_up ? "live" : "wait") : "down");
    witness(state.central_auth);
    applyFilters();
  }

  // central-auth silent: the banner says since when; the tiles are marked by renderTile
  function witness(centralAuth) {
    const banner = $("#central-auth-banner");
    if (!banner || !centralAuth) return;
    banner.hidden = !centralAuth.silent_since; // alive, or just started and not known yet
    const since = $("[data-silent-since]", banner);
    since.dateTime = centralAuth.silent_since || "";
    setText(since, clock(centralAuth.silent_since));
  }

  function feedStatus(kind) {
    const pill = $("#feed-status");
    pill.className = `pill pill-${kind}`;
    setText($("[data-text]", pill), { live: "Live", wait: "Connecting…", down: "Central feed offline" }[kind]);
  }

  // --- live updates: SSE first, polling as a fallback ------------------------------------
  let pollTimer = null;
  function poll() {
    fetch("/api/state", { headers: { Accept: "application/json" }, cache: "no-store" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then(render)
      .catch(() => feedStatus("down"));
  }
  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(poll, 1000);
    setTimeout(() => { clearInterval(pollTimer); pollTimer = null; connect(); }, 30000);
  }
  function connect() {
    if (!("EventSource" in window)) { startPolling(); return; }
    const source = new EventSource("/api/stream");
    source.addEventListener("state", (event) => render(JSON.parse(event.data)));
    source.onerror = () => {
      feedStatus("wait");
      if (source.readyState === EventSource.CLOSED) { source.close(); startPolling(); }
    };
  }

  // --- operator actions -----------------------------------------------------------------
  function toast(text, error = false) {
    const node = document.createElement("div");
    node.className = error ? "toast toast-error" : "toast";
    node.textContent = text;
    $("#toasts").append(node);
    setTimeout(() => node.remove(), 4500);
  }

  function confirmed(question) {
    const dialog = $("#confirm");
    if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(question));
    setText($("#confirm-text"), question);
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
  }

  async function send(form) {
    if (form.classList.contains("js-confirm") && !(await confirmed(form.dataset.confirm))) return;
    const button = $("button", form);
    button.disabled = true;
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        const target = body.cp_ids.length === 1 ? body.cp_ids[0] : `${body.cp_ids.length} charging points`;
        toast(`${body.action === "stop" ? "Stop" : "Resume"} sent to ${target}.`);
      } else if (response.status === 401) {
        window.location.href = "/login";
      } else {
        toast(body.message || `The command failed (${response.status}).`, true);
      }
    } catch {
      toast("The central web is not reachable. Nothing was sent.", true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form.js-action");
    if (!form) return;
    event.preventDefault();
    send(form);
  });

  // --- filters --------------------------------------------------------------------------
  for (const chip of $$(".chip[data-filter]")) {
    chip.addEventListener("click", () => {
      const state = chip.dataset.filter;
      const on = chip.getAttribute("aria-pressed") !== "true";
      chip.setAttribute("aria-pressed", String(on));
      if (on) filters.states.add(state); else filters.states.delete(state);
      applyFilters();
    });
  }
  const search = $("#search");
  search.addEventListener("input", () => {
    filters.text = search.value.trim().toLowerCase();
    applyFilters();
    if (lastState) { renderRequests(lastState.requests); renderEvents(lastState.events); }
  });
  filters.text = search.value.trim().toLowerCase();

  // relative times tick on their own
  setInterval(() => { for (const since of $$("[data-field-since]", grid)) if (since.dateTime) setText(since, ago(since.dateTime)); }, 5000);
  for (const since of $$("[data-field-since]", grid)) if (since.dateTime) setText(since, ago(since.dateTime));
  applyFilters();
  connect();
})();
