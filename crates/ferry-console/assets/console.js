// The ferry console: a single-page app over ferry's /v1 API, routed by the URL's hash.
//
// Security rules this file keeps: the token is only ever in the sign-in form's field until it is posted
// to /console/session (which answers with an HttpOnly cookie the script cannot read); every request that
// changes something carries the session's CSRF token as X-CSRF-Token; everything shown is put in the
// page with textContent or attributes, never innerHTML.
"use strict";
(function () {
  const state = { csrf: null, who: null, timers: [], aborts: [] };

  // el("p", {class: "x", text: "hello", onclick: fn}, child, ...): builds an element safely.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k === "class") e.className = v;
      else if (k === "for") e.htmlFor = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (v === true) e.setAttribute(k, "");
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // A labelled input: the label names it for screen readers, the hint says what it takes.
  function field(id, label, input, hint) {
    input.id = id;
    const hintEl = hint ? el("span", { class: "hint", id: id + "-hint", text: hint }) : null;
    if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
    return el("div", { class: "field" }, el("label", { for: id, text: label }), hintEl, input);
  }

  function options(values, selected) {
    return values.map(([value, text]) => el("option", { value, text, selected: value === selected }));
  }

  // Intervals and streams belong to the page that started them; leaving it stops them.
  function every(ms, fn) {
    const id = setInterval(fn, ms);
    state.timers.push(id);
    return id;
  }
  function leavePage() {
    state.timers.forEach(clearInterval);
    state.timers = [];
    state.aborts.forEach(a => a.abort());
    state.aborts = [];
  }

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  // The API's words, with the field at fault when it names one.
  function errorText(e) {
    if (e instanceof ApiError) return e.field ? `${e.message} (field: ${e.field})` : e.message;
    return "The server cannot be reached: " + (e && e.message ? e.message : String(e));
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = state.csrf || "";
    const resp = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (!resp.ok) {
      const err = json && json.error ? json.error : {};
      const e = new ApiError(resp.status, err.code || "Error", err.message || `${method} ${path}: HTTP ${resp.status}`, err.field);
      if (resp.status === 401 && path.startsWith("/v1/")) signedOut("Your session has ended; sign in again.");
      throw e;
    }
    return json;
  }

  function showAlert(message, info) {
    const a = document.getElementById("alert");
    a.textContent = message;
    a.classList.toggle("info", !!info);
    a.hidden = false;
  }
  function clearAlert() {
    const a = document.getElementById("alert");
    a.hidden = true;
    a.textContent = "";
  }
  function announce(message) {
    document.getElementById("announce").textContent = message;
  }

  function setMain(title, ...children) {
    const main = document.getElementById("main");
    main.replaceChildren(...children);
    document.title = title + " · ferry console";
  }

  // After a page change, screen readers and keyboards start at the new page's content.
  function focusMain() {
    document.getElementById("main").focus({ preventScroll: true });
  }

  // ---- sign in and out ----------------------------------------------------------------------------

  function signedIn(session) {
    state.csrf = session.csrf;
    state.who = session;
    document.getElementById("who").textContent = `${session.token_name} (${session.scope})`;
    document.getElementById("sign-out").hidden = false;
    document.getElementById("nav").hidden = false;
  }

  function signedOut(message) {
    leavePage();
    state.csrf = null;
    state.who = null;
    document.getElementById("who").textContent = "";
    document.getElementById("sign-out").hidden = true;
    document.getElementById("nav").hidden = true;
    showSignIn(message);
  }

  function showSignIn(message) {
    const error = el("p", { class: "form-error", id: "sign-in-error", role: "alert" });
    if (message) error.textContent = message;
    const token = el("input", { type: "password", name: "token", autocomplete: "off", required: true, spellcheck: "false" });
    const form = el("form", { class: "stack", method: "post", action: "/console/session" },
      field("token", "API token", token, "An admin, deploy or read-only token (`ferry token create`); the admin token is in the server's data directory."),
      error,
      el("div", {}, el("button", { type: "submit", id: "sign-in", text: "Sign in" })));
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      error.textContent = "";
      try {
        const resp = await fetch("/console/session", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ token: token.value }),
        });
        const json = await resp.json().catch(() => null);
        token.value = "";
        if (!resp.ok) {
          const e = json && json.error ? json.error : { message: `HTTP ${resp.status}` };
          error.textContent = e.message;
          token.focus();
          return;
        }
        signedIn(json);
        clearAlert();
        route();
      } catch (e) {
        error.textContent = errorText(e);
      }
    });
    setMain("Sign in", el("section", { class: "signin", "aria-labelledby": "sign-in-title" },
      el("h1", { id: "sign-in-title", text: "Sign in to ferry" }), form));
    token.focus();
  }

  async function signOut() {
    try {
      await fetch("/console/session", { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": state.csrf || "" } });
    } finally {
      signedOut("Signed out.");
    }
  }

  // ---- the services list --------------------------------------------------------------------------

  function statusEl(status, id) {
    return el("span", { class: "status " + status, id, text: status });
  }

  function pageServices() {
    const tbody = el("tbody");
    const empty = el("p", { class: "nodata", hidden: true, text: "No services yet. " }, el("a", { href: "#/new", text: "Create one." }));
    const table = el("div", { class: "table-wrap" }, el("table", { id: "services" },
      el("caption", { class: "visually-hidden", text: "Services" }),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: "Name" }), el("th", { scope: "col", text: "Status" }),
        el("th", { scope: "col", text: "URL", class: "optional" }), el("th", { scope: "col", text: "Latest operation" }))),
      tbody));
    setMain("Services", el("h1", { text: "Services" }),
      el("div", { class: "actions" }, el("a", { class: "button", href: "#/new", text: "Create service" })), table, empty);
    const load = async () => {
      const list = await api("GET", "/v1/services");
      const services = list.services || [];
      const described = await Promise.all(services.slice(0, 100).map(s =>
        api("GET", "/v1/services/" + encodeURIComponent(s.name)).catch(() => null)));
      tbody.replaceChildren(...services.map((s, i) => {
        const d = described[i];
        const op = d && d.latest_operation;
        return el("tr", { dataset: { service: s.name } },
          el("th", { scope: "row" }, el("a", { href: "#/s/" + encodeURIComponent(s.name), text: s.name })),
          el("td", {}, statusEl(s.status)),
          el("td", { class: "optional" }, el("a", { href: s.url, text: s.url, rel: "noreferrer" })),
          el("td", { text: op ? `${op.type} ${op.status}` : "–" }));
      }));
      empty.hidden = services.length > 0;
    };
    load().catch(e => showAlert(errorText(e)));
    every(5000, () => load().catch(() => {}));
  }

  // ---- creating a service -------------------------------------------------------------------------

  const CPUS = ["0.25 vCPU", "0.5 vCPU", "1 vCPU", "2 vCPU", "4 vCPU"];
  const MEMORIES = ["0.5 GB", "1 GB", "2 GB", "3 GB", "4 GB", "6 GB", "8 GB", "10 GB", "12 GB"];

  // "KEY=VALUE" lines to an object; blank lines and lines starting with # are skipped.
  function parseEnv(text) {
    const env = {};
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const i = line.indexOf("=");
      if (i <= 0) throw new ApiError(400, "InvalidRequest", `${JSON.stringify(line)} is not KEY=VALUE`, "env");
      env[line.slice(0, i).trim()] = line.slice(i + 1);
    }
    return env;
  }
  function envText(env) {
    return Object.entries(env || {}).map(([k, v]) => `${k}=${v}`).join("\n");
  }
  function int(input) {
    const v = input.value.trim();
    return v === "" ? undefined : Number(v);
  }

  function pageCreate() {
    const name = el("input", { type: "text", required: true, autocomplete: "off", spellcheck: "false" });
    const srcImage = el("input", { type: "radio", name: "source", id: "src-image", value: "image", checked: true });
    const srcRepo = el("input", { type: "radio", name: "source", id: "src-repo", value: "repo" });
    const image = el("input", { type: "text", spellcheck: "false" });
    const repo = el("input", { type: "text", spellcheck: "false" });
    const branch = el("input", { type: "text", placeholder: "main" });
    const port = el("input", { type: "number", min: 1, max: 65535, value: 8080 });
    const env = el("textarea", { spellcheck: "false" });
    const cpu = el("select", {}, options(CPUS.map(c => [c, c]), "1 vCPU"));
    const memory = el("select", {}, options(MEMORIES.map(m => [m, m]), "2 GB"));
    const min = el("input", { type: "number", min: 0, value: 1 });
    const max = el("input", { type: "number", min: 1, value: 1 });
    const imageFields = el("div", {}, field("new-image", "Image", image, "A registry image reference, e.g. registry.example.com/app:1.2"));
    const repoFields = el("div", { class: "row", hidden: true },
      field("new-repo", "Repository URL", repo), field("new-branch", "Branch", branch));
    const sync = () => { imageFields.hidden = !srcImage.checked; repoFields.hidden = srcImage.checked; };
    srcImage.addEventListener("change", sync);
    srcRepo.addEventListener("change", sync);
    const error = el("p", { class: "form-error", id: "create-error", role: "alert" });
    const submit = el("button", { type: "submit", id: "create", text: "Create service" });
    const form = el("form", { class: "stack", "aria-labelledby": "create-title" },
      field("new-name", "Name", name, "1 to 40 letters, digits, - or _; also the host name label"),
      el("fieldset", {}, el("legend", { text: "Source" }),
        srcImage, el("label", { for: "src-image", text: "Container image" }),
        srcRepo, el("label", { for: "src-repo", text: "Code repository" })),
      imageFields, repoFields,
      field("new-port", "Port", port, "The port the app listens on"),
      field("new-env", "Environment variables", env, "One KEY=VALUE per line"),
      el("div", { class: "row" }, field("new-cpu", "CPU", cpu), field("new-memory", "Memory", memory)),
      el("div", { class: "row" }, field("new-min", "Minimum instances", min), field("new-max", "Maximum instances", max)),
      error, el("div", {}, submit));
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      error.textContent = "";
      clearAlert();
      submit.disabled = true;
      try {
        const source = srcImage.checked
          ? { image: { identifier: image.value.trim(), port: int(port), env: parseEnv(env.value) } }
          : { code_repository: { repository_url: repo.value.trim(), branch: branch.value.trim() || undefined, port: int(port), env: parseEnv(env.value) } };
        const body = {
          name: name.value.trim(), source,
          instance: { cpu: cpu.value, memory: memory.value },
          autoscaling: { min_size: int(min), max_size: int(max) },
        };
        const created = await api("POST", "/v1/services", body);
        announce(`Creating ${created.service.name}.`);
        location.hash = "#/s/" + encodeURIComponent(created.service.name);
      } catch (e) {
        error.textContent = errorText(e);
        showAlert(errorText(e));
      } finally {
        submit.disabled = false;
      }
    });
    setMain("Create service", el("h1", { id: "create-title", text: "Create a service" }), form);
  }

  // ---- routing ------------------------------------------------------------------------------------

  function route() {
    leavePage();
    if (!state.csrf) return showSignIn();
    const hash = location.hash.replace(/^#/, "") || "/";
    const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts.length === 0) pageServices();
    else if (parts[0] === "new") pageCreate();
    else if (parts[0] === "s" && parts[1]) window.FerryService.page(parts[1]);
    else setMain("Not found", el("h1", { text: "Not found" }), el("p", {}, el("a", { href: "#/", text: "Back to the services" })));
    focusMain();
  }

  window.Ferry = { el, field, options, every, api, errorText, showAlert, clearAlert, announce, setMain, statusEl,
    parseEnv, envText, int, state, CPUS, MEMORIES, ApiError };

  window.addEventListener("hashchange", () => { clearAlert(); route(); });
  document.addEventListener("DOMContentLoaded", async () => {
    document.getElementById("sign-out").addEventListener("click", signOut);
    try {
      const resp = await fetch("/console/session", { credentials: "same-origin", cache: "no-store" });
      if (resp.ok) signedIn(await resp.json());
    } catch (_) { /* shown as the sign-in page */ }
    route();
  });
})();
