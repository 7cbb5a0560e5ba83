// Hand-written SVG charts of a service's last hour (GET /v1/services/{name}/metrics), each with a
// text summary for screen readers, and one table of every point as the charts' text alternative.
// Everything is built with createElement/textContent: no data ever goes through innerHTML.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 300, H = 120, PAD_L = 4, PAD_R = 4, PAD_T = 8, PAD_B = 14;

  function svgEl(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  function fmtBytes(b) {
    if (b == null) return "–";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return b.toFixed(i ? 1 : 0) + " " + units[i];
  }
  function fmtNum(v, digits) {
    if (v == null || Number.isNaN(v)) return "–";
    return Number(v).toFixed(digits);
  }

  // What each chart shows: its title, how to read a point, how to show a value, and whether its total
  // (a sum over the hour) means something.
  const CHARTS = [
    { key: "requests", title: "Requests", value: p => p.requests, fmt: v => fmtNum(v, 0), unit: "per 10 s", sum: true },
    { key: "errors", title: "Errors (5xx)", value: p => p.errors, fmt: v => fmtNum(v, 0), unit: "per 10 s", sum: true, bad: true },
    { key: "p50", title: "Latency p50", value: p => p.p50_ms, fmt: v => fmtNum(v, 1) + " ms" },
    { key: "p99", title: "Latency p99", value: p => p.p99_ms, fmt: v => fmtNum(v, 1) + " ms" },
    { key: "instances", title: "Instances", value: p => p.instances, fmt: v => fmtNum(v, 0) },
    { key: "cpu", title: "CPU", value: p => p.cpu_percent, fmt: v => fmtNum(v, 1) + " %" },
    { key: "memory", title: "Memory", value: p => p.memory_bytes, fmt: fmtBytes },
  ];

  function chart(def, points, from, to, interval) {
    const fig = document.createElement("figure");
    fig.className = "chart";
    fig.dataset.chart = def.key;
    const values = points.map(p => ({ t: Date.parse(p.at), v: def.value(p) })).filter(x => x.v != null && !Number.isNaN(x.t));
    const total = values.reduce((s, x) => s + x.v, 0);
    const max = values.reduce((m, x) => Math.max(m, x.v), 0);
    const latest = values.length ? values[values.length - 1].v : null;
    fig.dataset.total = String(def.sum ? total : (latest == null ? "" : latest));
    const cap = document.createElement("figcaption");
    const title = document.createElement("span");
    title.textContent = def.title;
    const now = document.createElement("span");
    now.className = "hint";
    now.textContent = def.sum ? "total " + def.fmt(total) : "now " + def.fmt(latest);
    cap.append(title, now);
    fig.append(cap);
    if (!values.length) {
      const p = document.createElement("p");
      p.className = "nodata";
      p.textContent = "No data in the last hour.";
      fig.append(p);
      return fig;
    }
    const summary = def.title + " over the last hour: " + values.length + " samples, " +
      (def.sum ? "total " + def.fmt(total) + ", " : "") + "highest " + def.fmt(max) +
      (def.unit ? " " + def.unit : "") + ", latest " + def.fmt(latest) + ".";
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, preserveAspectRatio: "none" });
    const top = max > 0 ? max * 1.1 : 1;
    const x = t => PAD_L + (W - PAD_L - PAD_R) * Math.min(1, Math.max(0, (t - from) / (to - from)));
    const y = v => PAD_T + (H - PAD_T - PAD_B) * (1 - v / top);
    svg.append(svgEl("line", { class: "axis", x1: PAD_L, x2: W - PAD_R, y1: y(0), y2: y(0) }));
    if (def.sum) {
      // Counts per interval are bars, one per interval, ending at the interval's end.
      const bw = Math.max(2, (W - PAD_L - PAD_R) * (interval * 1000) / (to - from));
      for (const p of values) {
        if (p.v <= 0) continue;
        svg.append(svgEl("rect", { class: "bar" + (def.bad ? " bad" : ""), x: (x(p.t) - bw).toFixed(1),
          y: y(p.v).toFixed(1), width: bw.toFixed(1), height: (y(0) - y(p.v)).toFixed(1) }));
      }
    } else {
      // Levels are a line, with a dot on each sample while there are few (a lone sample shows too).
      const pts = values.map(p => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
      const area = `M${x(values[0].t).toFixed(1)},${y(0)} L${pts.join(" L")} L${x(values[values.length - 1].t).toFixed(1)},${y(0)} Z`;
      svg.append(svgEl("path", { class: "area", d: area }));
      svg.append(svgEl("polyline", { class: "line", points: pts.join(" ") }));
      const dots = values.length <= 30 ? values : values.slice(-1);
      for (const p of dots) svg.append(svgEl("circle", { class: "dot", cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5 }));
    }
    const label = svgEl("text", { x: PAD_L + 2, y: PAD_T + 2, "dominant-baseline": "hanging" });
    label.textContent = "max " + def.fmt(max);
    svg.append(label);
    const left = svgEl("text", { x: PAD_L, y: H - 2 });
    left.textContent = "−60 min";
    const right = svgEl("text", { x: W - PAD_R, y: H - 2, "text-anchor": "end" });
    right.textContent = "now";
    svg.append(left, right);
    fig.append(svg);
    return fig;
  }

  function table(points) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "The charts' data as a table";
    details.append(summary);
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    const t = document.createElement("table");
    const cap = document.createElement("caption");
    cap.className = "visually-hidden";
    cap.textContent = "Metrics per interval, oldest first";
    const head = document.createElement("tr");
    for (const h of ["Time", "Requests", "Errors", "p50", "p99", "Instances", "CPU", "Memory"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    for (const p of points) {
      if (!p.requests && p.instances == null && p.cpu_percent == null) continue;
      const tr = document.createElement("tr");
      const cells = [new Date(p.at).toLocaleTimeString(), fmtNum(p.requests, 0), fmtNum(p.errors, 0),
        fmtNum(p.p50_ms, 1), fmtNum(p.p99_ms, 1), fmtNum(p.instances, 0), fmtNum(p.cpu_percent, 1), fmtBytes(p.memory_bytes)];
      cells.forEach((c, i) => {
        const td = document.createElement(i ? "td" : "th");
        if (!i) td.scope = "row";
        td.textContent = c;
        tr.append(td);
      });
      tbody.append(tr);
    }
    t.append(cap, thead, tbody);
    wrap.append(t);
    details.append(wrap);
    return details;
  }

  // Replaces the container's content with the charts of `view`, or says why there are none.
  function render(container, view, unavailable) {
    const keepOpen = container.querySelector("details[open]") != null;
    container.replaceChildren();
    if (unavailable) {
      const p = document.createElement("p");
      p.className = "nodata";
      p.textContent = unavailable;
      container.append(p);
      return;
    }
    const to = Date.now(), from = to - 60 * 60 * 1000;
    const points = Array.isArray(view.points) ? view.points : [];
    const grid = document.createElement("div");
    grid.className = "charts";
    const interval = Number(view.interval_seconds) > 0 ? Number(view.interval_seconds) : 10;
    for (const def of CHARTS) grid.append(chart(def, points, from, to, interval));
    container.append(grid);
    const t = table(points);
    t.open = keepOpen;
    container.append(t);
  }

  window.FerryCharts = { render };
})();
