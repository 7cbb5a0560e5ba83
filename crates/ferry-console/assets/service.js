// A service's page: status and actions, its latest operation's log live, charts of the last hour,
// configuration (shown and changed), revisions (and roll back), operations, instances, and the
// application and request logs live.
"use strict";
(function () {
  const F = window.Ferry;
  const { el, field, api, every } = F;
  const RUNNING_OPS = ["PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS"];
  const MAX_LOG_LINES = 500;

  function section(id, title, ...children) {
    return el("section", { id, "aria-labelledby": id + "-title" }, el("h2", { id: id + "-title", text: title }), ...children);
  }

  function append(pre, text, cls) {
    pre.append(el("span", { class: cls, text: text + "\n" }));
    while (pre.childElementCount > MAX_LOG_LINES) pre.firstElementChild.remove();
    pre.scrollTop = pre.scrollHeight;
  }

  // Reads a newline-delimited JSON stream (the logs API with follow) until the page is left,
  // reconnecting when the server ends it.
  async function stream(url, onLine, onError) {
    const ctrl = new AbortController();
    F.state.aborts.push(ctrl);
    while (!ctrl.signal.aborted) {
      try {
        const resp = await fetch(url, { credentials: "same-origin", signal: ctrl.signal, cache: "no-store" });
        if (!resp.ok) {
          const json = await resp.json().catch(() => null);
          onError(json && json.error ? json.error.message : `HTTP ${resp.status}`, resp.status);
          return;
        }
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            try { if (onLine(JSON.parse(line)) === false) { ctrl.abort(); return; } } catch (_) { /* not JSON: skipped */ }
          }
        }
      } catch (e) {
        if (ctrl.signal.aborted) return;
      }
      await new Promise(r => setTimeout(r, 3000));
    }
  }

  function configList(s) {
    const src = s.source.image || s.source.code_repository || {};
    const rows = [];
    if (s.source.image) rows.push(["Image", src.identifier]);
    if (s.source.code_repository) rows.push(["Repository", src.repository_url], ["Branch", src.branch]);
    rows.push(["Port", src.port], ["CPU", s.instance.cpu], ["Memory", s.instance.memory], ["Protocol", s.protocol]);
    if (s.autoscaling) {
      const a = s.autoscaling;
      rows.push(["Scaling", `${a.min_size} to ${a.max_size} instances, ${a.max_concurrency} requests each` + (a.configuration ? ` (${a.configuration})` : "")]);
    } else rows.push(["Instances", s.instances_desired]);
    rows.push(["Health check", `${s.health_check.protocol} ${s.health_check.path} every ${s.health_check.interval} s`]);
    rows.push(["Request timeout", `${s.request_timeout} s`], ["Request logs", s.request_logs || "off"],
      ["Automatic deployments", s.auto_deploy ? "on" : "off"], ["Active revision", s.active_revision ?? "–"]);
    for (const [k, v] of Object.entries(src.env || {})) rows.push(["env " + k, v]);
    for (const [k, v] of Object.entries(src.secrets || {})) rows.push(["secret " + k, v]);
    return el("dl", { class: "config", id: "config" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v ?? "–" })]));
  }

  // The change form, filled from the service as it was when the page opened; only what changed is sent.
  function editForm(s, onQueued) {
    const isImage = !!s.source.image;
    const src = s.source.image || s.source.code_repository;
    const image = el("input", { type: "text", value: isImage ? src.identifier : src.branch, spellcheck: "false" });
    const port = el("input", { type: "number", min: 1, max: 65535, value: src.port });
    const env = el("textarea", { spellcheck: "false" });
    env.value = F.envText(src.env);
    const cpu = el("select", {}, F.options(F.CPUS.map(c => [c, c]), s.instance.cpu));
    const memory = el("select", {}, F.options(F.MEMORIES.map(m => [m, m]), s.instance.memory));
    const a = s.autoscaling;
    const min = el("input", { type: "number", min: 0, value: a ? a.min_size : "" });
    const max = el("input", { type: "number", min: 1, value: a ? a.max_size : "" });
    const conc = el("input", { type: "number", min: 1, value: a ? a.max_concurrency : "" });
    const fixed = el("input", { type: "number", min: 0, value: a ? "" : s.instances_desired });
    const reqLogs = el("input", { type: "text", value: s.request_logs || "off", spellcheck: "false" });
    const error = el("p", { class: "form-error", id: "edit-error", role: "alert" });
    const save = el("button", { type: "submit", id: "save", text: "Deploy the change" });
    const scaling = a
      ? el("div", { class: "row" }, field("edit-min", "Minimum instances", min), field("edit-max", "Maximum instances", max),
        field("edit-concurrency", "Requests per instance", conc))
      : field("edit-instances", "Instances", fixed);
    const form = el("form", { class: "stack", "aria-labelledby": "edit-title" },
      el("h3", { id: "edit-title", text: "Change the configuration" }),
      field("edit-image", isImage ? "Image" : "Branch", image),
      field("edit-port", "Port", port),
      field("edit-env", "Environment variables", env, "One KEY=VALUE per line; a removed line removes the variable"),
      el("div", { class: "row" }, field("edit-cpu", "CPU", cpu), field("edit-memory", "Memory", memory)),
      scaling,
      field("edit-request-logs", "Request logs", reqLogs, "on, off, or 1/N to log one request in N"),
      error, el("div", {}, save));
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      error.textContent = "";
      F.clearAlert();
      try {
        const body = {};
        const source = {};
        const newEnv = F.parseEnv(env.value);
        const oldEnv = src.env || {};
        const changedEnv = Object.fromEntries(Object.entries(newEnv).filter(([k, v]) => oldEnv[k] !== v));
        const removed = Object.keys(oldEnv).filter(k => !(k in newEnv));
        if (Object.keys(changedEnv).length) source.env = changedEnv;
        if (removed.length) source.env_remove = removed;
        if (isImage && image.value.trim() !== src.identifier) source.identifier = image.value.trim();
        if (!isImage && image.value.trim() !== src.branch) source.branch = image.value.trim();
        if (F.int(port) !== src.port) source.port = F.int(port);
        if (Object.keys(source).length) body[isImage ? "image" : "code"] = source;
        if (cpu.value !== s.instance.cpu || memory.value !== s.instance.memory) body.instance = { cpu: cpu.value, memory: memory.value };
        if (a) {
          if (F.int(min) !== a.min_size || F.int(max) !== a.max_size || F.int(conc) !== a.max_concurrency)
            body.autoscaling = { min_size: F.int(min), max_size: F.int(max), max_concurrency: F.int(conc) };
        } else if (F.int(fixed) !== s.instances_desired) body.instances = F.int(fixed);
        if (reqLogs.value.trim() !== (s.request_logs || "off")) body.request_logs = reqLogs.value.trim();
        if (!Object.keys(body).length) {
          error.textContent = "Nothing changed.";
          return;
        }
        save.disabled = true;
        const queued = await api("PATCH", "/v1/services/" + encodeURIComponent(s.name), body);
        onQueued(queued, "Configuration change queued.");
      } catch (e) {
        error.textContent = F.errorText(e);
        F.showAlert(F.errorText(e));
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }

  function table(id, caption, headers, rows) {
    return el("div", { class: "table-wrap" }, el("table", { id },
      el("caption", { class: "visually-hidden", text: caption }),
      el("thead", {}, el("tr", {}, headers.map(h => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows)));
  }

  function when(t) {
    if (!t) return "–";
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
  }

  function page(name) {
    const path = "/v1/services/" + encodeURIComponent(name);
    const status = el("p", {}, "Status: ", F.statusEl("…", "svc-status"), " ", el("a", { id: "svc-url", rel: "noreferrer" }));
    const actions = el("div", { class: "actions", role: "group", "aria-label": "Actions" });
    const opTitle = el("p", { id: "op-title" });
    const opLog = el("pre", { class: "log", id: "op-log", tabindex: 0, "aria-label": "Operation log" });
    const charts = el("div", { id: "charts" }, el("p", { class: "nodata", text: "Loading the last hour…" }));
    const config = el("div", { id: "config-wrap" });
    const edit = el("div", { id: "edit-wrap" });
    const revisions = el("div", { id: "revisions-wrap" });
    const operations = el("div", { id: "operations-wrap" });
    const instances = el("div", { id: "instances-wrap" });
    const appLog = el("pre", { class: "log", id: "app-log", tabindex: 0, "aria-label": "Application log" });
    const reqLog = el("pre", { class: "log", id: "request-log", tabindex: 0, "aria-label": "Request log" });
    const reqNote = el("p", { class: "nodata", id: "request-log-note", text: "No requests logged yet (request logs are off unless the service's configuration turns them on)." });
    F.setMain(name,
      el("h1", { text: name }), status, actions,
      section("operation", "Latest operation", el("div", { "aria-live": "polite", id: "op-live" }, opTitle), opLog),
      section("metrics", "The last hour", charts),
      el("div", { class: "grid" }, section("configuration", "Configuration", config), el("div", {}, edit)),
      section("revisions", "Revisions", revisions),
      section("operations", "Operations", operations),
      section("instances", "Instances", instances),
      el("div", { class: "grid" }, section("logs", "Application log", appLog), section("requests", "Request log", reqNote, reqLog)));

    let service = null;
    let followed = null; // the operation whose log is shown
    let pinned = false; // the user chose an operation: the latest does not replace it
    let seq = 0;
    let opStatus = null;
    let formStale = false; // the change form shows an older configuration than the service's

    async function pollOperation() {
      if (!followed) return;
      const id = followed;
      const d = await api("GET", `/v1/operations/${encodeURIComponent(id)}?after=${seq}`);
      if (id !== followed) return;
      for (const e of d.events) {
        append(opLog, `${when(e.at)}  ${e.message}`);
        seq = Math.max(seq, e.seq);
      }
      const op = d.operation;
      if (op.status !== opStatus) {
        opStatus = op.status;
        opTitle.replaceChildren(`${op.type}${op.revision ? " of revision " + op.revision : ""}: `,
          F.statusEl(op.status, "op-status"), op.error ? ` (${op.error})` : "");
        F.announce(`${op.type} ${op.status}${op.error ? ": " + op.error : ""}`);
        if (!RUNNING_OPS.includes(op.status)) formStale = true;
        refreshHistory().catch(() => {});
      }
    }
    function follow(id, byUser) {
      if (byUser) pinned = true;
      if (id === followed) return;
      followed = id;
      seq = 0;
      opStatus = null;
      opLog.replaceChildren();
      pollOperation().catch(() => {});
    }
    every(1000, () => { if (RUNNING_OPS.includes(opStatus) || opStatus == null) pollOperation().catch(() => {}); });

    function queued(result, message) {
      F.showAlert(message, true);
      pinned = false;
      follow(result.operation_id);
      refresh().catch(() => {});
    }

    async function act(button, method, suffix, body, message) {
      button.disabled = true;
      F.clearAlert();
      try {
        const result = await api(method, path + suffix, body);
        queued(result, message);
        return result;
      } catch (e) {
        F.showAlert(F.errorText(e));
      } finally {
        button.disabled = false;
      }
    }

    function renderActions(s) {
      const paused = s.status === "PAUSED";
      const deploy = el("button", { type: "button", id: "deploy", text: "Deploy" });
      deploy.addEventListener("click", () => act(deploy, "POST", "/deployments", undefined, "Deployment queued."));
      const toggle = paused
        ? el("button", { type: "button", id: "resume", text: "Resume" })
        : el("button", { type: "button", id: "pause", class: "secondary", text: "Pause" });
      toggle.addEventListener("click", () => act(toggle, "POST", paused ? "/resume" : "/pause", undefined, paused ? "Resuming." : "Pausing."));
      const del = el("button", { type: "button", id: "delete", class: "danger", text: "Delete…", "aria-expanded": "false", "aria-controls": "delete-zone" });
      const confirmName = el("input", { type: "text", autocomplete: "off", spellcheck: "false" });
      const confirm = el("button", { type: "submit", id: "delete-confirm", class: "danger", text: "Delete the service" });
      const zone = el("form", { class: "danger-zone stack", id: "delete-zone", hidden: true },
        field("delete-name", `Type ${s.name} to delete the service, its revisions and its instances`, confirmName), el("div", {}, confirm));
      del.addEventListener("click", () => {
        zone.hidden = !zone.hidden;
        del.setAttribute("aria-expanded", String(!zone.hidden));
        if (!zone.hidden) confirmName.focus();
      });
      zone.addEventListener("submit", async ev => {
        ev.preventDefault();
        if (confirmName.value !== s.name) {
          F.showAlert(`Type the service's name, ${s.name}, to confirm.`);
          confirmName.focus();
          return;
        }
        const r = await act(confirm, "DELETE", "", undefined, `Deleting ${s.name}.`);
        if (r) location.hash = "#/";
      });
      actions.replaceChildren(deploy, toggle, del, zone);
    }

    async function refresh() {
      const s = await api("GET", path);
      const first = service == null;
      const changedStatus = !service || service.status !== s.status;
      service = s;
      const st = document.getElementById("svc-status");
      st.textContent = s.status;
      st.className = "status " + s.status;
      const url = document.getElementById("svc-url");
      url.textContent = s.url;
      url.href = s.url;
      if (changedStatus) {
        // Re-rendered buttons keep the keyboard's place.
        const focused = actions.contains(document.activeElement) ? document.activeElement.id : null;
        renderActions(s);
        const again = focused && document.getElementById(focused);
        if (again) again.focus();
        else if (focused) actions.querySelector("button").focus();
      }
      config.replaceChildren(configList(s));
      // The form is refilled after an operation ends, unless someone is typing in it.
      if (first || (formStale && !edit.contains(document.activeElement))) {
        edit.replaceChildren(editForm(s, queued));
        formStale = false;
      }
      if (s.latest_operation && !pinned) follow(s.latest_operation.id);
      instances.replaceChildren(s.instances.length
        ? table("instances-table", "Instances", ["Instance", "Revision", "State", "Since", "Detail"], s.instances.map(i =>
          el("tr", {}, el("td", { text: i.id }), el("td", { text: i.revision }), el("td", {}, F.statusEl(i.state)),
            el("td", { text: when(i.since) }), el("td", { text: i.detail || "" }))))
        : el("p", { class: "nodata", text: "No instances." }));
    }

    async function refreshHistory() {
      const [revs, ops] = await Promise.all([api("GET", path + "/revisions"), api("GET", path + "/operations")]);
      const focused = document.activeElement && document.activeElement.id;
      revisions.replaceChildren(table("revisions-table", "Revisions", ["Revision", "Image", "Created", "Serving", ""],
        revs.revisions.map(r => {
          const cell = el("td");
          if (!r.serving) {
            const b = el("button", { type: "button", class: "secondary", id: "rollback-" + r.number, dataset: { rollback: r.number }, text: `Roll back to ${r.number}` });
            b.addEventListener("click", () => act(b, "POST", "/rollback", { revision: r.number }, `Rolling back to revision ${r.number}.`));
            cell.append(b);
          }
          return el("tr", {}, el("th", { scope: "row", text: r.number }), el("td", { text: r.image }),
            el("td", { text: when(r.created_at) }), el("td", { text: r.serving ? "serving" : "" }), cell);
        })));
      operations.replaceChildren(table("operations-table", "Operations", ["Operation", "Status", "Started", "Trigger", ""],
        ops.operations.slice(0, 20).map(o => {
          const b = el("button", { type: "button", class: "secondary", text: "Show log", "aria-controls": "op-log" });
          b.addEventListener("click", () => { follow(o.id, true); opLog.focus(); });
          return el("tr", {}, el("td", { text: o.type + (o.revision ? ` (revision ${o.revision})` : "") }),
            el("td", {}, F.statusEl(o.status)), el("td", { text: when(o.started_at || o.created_at) }),
            el("td", { text: o.triggered_by ? o.triggered_by.kind : (o.trigger || "") }), el("td", {}, b));
        })));
      if (focused && document.getElementById(focused) && document.activeElement === document.body) document.getElementById(focused).focus();
    }

    async function refreshMetrics() {
      try {
        const view = await api("GET", path + "/metrics?minutes=60");
        window.FerryCharts.render(charts, view);
      } catch (e) {
        window.FerryCharts.render(charts, null, "No data: " + F.errorText(e));
      }
    }

    refresh().then(() => { refreshHistory().catch(() => {}); refreshMetrics(); })
      .catch(e => F.showAlert(F.errorText(e)));
    every(3000, () => refresh().catch(() => {}));
    every(5000, () => refreshHistory().catch(() => {}));
    every(10000, () => refreshMetrics());

    stream(path + "/logs?follow=true&tail=200", l => {
      append(appLog, `${when(l.at)} ${l.instance} ${l.line}`, l.stream === "stderr" ? "stderr" : undefined);
    }, message => append(appLog, message, "stderr"));
    stream(path + "/logs?requests=true&follow=true&tail=200", r => {
      if (r.method === undefined || r.status === undefined) {
        reqNote.textContent = "This server does not offer request logs.";
        return false;
      }
      reqNote.hidden = true;
      append(reqLog, `${when(r.time)} ${r.method} ${r.path} ${r.status} ${Number(r.duration_ms).toFixed(1)} ms ${r.client} ${r.request_id}`);
    }, message => { reqNote.textContent = "Request logs: " + message; });
  }

  window.FerryService = { page };
})();
