// stoker dashboard: live counts and the live graph on the overview, and "select all" boxes.
// Every page works without this script; it only refreshes what the server already rendered.
"use strict";

const POLL_MS = 2000;
const POINTS = 30;

function selectAll() {
  for (const box of document.querySelectorAll("input[data-select-all]")) {
    box.addEventListener("change", () => {
      for (const row of box.form.querySelectorAll("input[name=id]")) row.checked = box.checked;
    });
  }
}

function polyline(svg, className, values, peak) {
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("class", className);
  const step = 300 / (POINTS - 1);
  const points = values.map((value, index) => {
    const x = (index + POINTS - values.length) * step;
    const y = 100 - (peak > 0 ? (value * 96) / peak : 0);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  line.setAttribute("points", points.join(" "));
  svg.appendChild(line);
}

function live() {
  const counts = document.querySelector("[data-live]");
  const svg = document.getElementById("live-graph");
  if (!counts || !svg) return;
  const rates = { succeeded: [], failed: [] };
  let last = null;
  async function poll() {
    try {
      const response = await fetch(counts.dataset.live, { credentials: "same-origin" });
      if (!response.ok) return;
      const stats = await response.json();
      const now = performance.now();
      for (const element of counts.querySelectorAll("[data-stat]")) {
        const value = stats[element.dataset.stat];
        if (typeof value === "number") element.textContent = String(value);
      }
      if (last) {
        const seconds = (now - last.at) / 1000;
        for (const key of ["succeeded", "failed"]) {
          rates[key].push(Math.max(0, stats[key] - last[key]) / seconds);
          if (rates[key].length > POINTS) rates[key].shift();
        }
      }
      last = { at: now, succeeded: stats.succeeded, failed: stats.failed };
      const peak = Math.max(1, ...rates.succeeded, ...rates.failed);
      svg.replaceChildren();
      polyline(svg, "succeeded", rates.succeeded, peak);
      polyline(svg, "failed", rates.failed, peak);
      svg.setAttribute("aria-label", "jobs per second; highest in view " + peak.toFixed(1));
    } catch (_) {
      // The server is away for a moment; the next poll tries again.
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  selectAll();
  live();
});
