// The usage panel: reads /live-data.json, checks its shape, renders it, and reads it again
// every 30 seconds so that a scheduled `aggregate run` shows up without a reload.

import { el, replace, withCode } from "./dom.js";
import { isEmpty, isStale, renderDaily, renderModels, renderWindows, statusLine } from "./render.js";
import { validateLiveData } from "./validate.js";

const DATA_URL = "/live-data.json";
const REFRESH_MS = 30 * 1000;

const $ = (id) => document.getElementById(id);

/** The clock: `?now=RFC3339` fixes it (for reproducible views), else the browser's. */
function pageNow() {
  const fixed = new URLSearchParams(window.location.search).get("now");
  if (fixed !== null && !Number.isNaN(Date.parse(fixed))) {
    return new Date(Date.parse(fixed));
  }
  return new Date();
}

function setState(state) {
  document.body.dataset.state = state;
}

function showSections(visible) {
  for (const id of ["windows", "daily", "models"]) {
    $(id).hidden = !visible;
  }
}

function showMessage(kind, title, paragraphs, list) {
  const box = $("message");
  box.hidden = false;
  box.className = "message message-" + kind;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  replace(box, [
    el("h2", { class: "message-title", text: title }),
    ...paragraphs.map((p) => el("p", {}, withCode(p))),
    list && list.length > 0 ? el("ul", { class: "problems" }, list.map((item) => el("li", { text: item }))) : null,
  ]);
}

function hideMessage() {
  const box = $("message");
  box.hidden = true;
  replace(box, []);
}

function renderMissing(serverMessage) {
  setState("missing");
  showSections(false);
  replace($("status"), ["Waiting for data."]);
  showMessage(
    "info",
    "No data yet",
    [
      serverMessage || "The server has no live-data.json to show yet.",
      "Run `aggregate run` (or wait for its scheduled run) to write it. This page checks again every 30 seconds.",
    ],
    null,
  );
}

function renderInvalid(reason, problems) {
  setState("invalid");
  showSections(false);
  replace($("status"), ["The data file cannot be shown."]);
  showMessage(
    "error",
    "live-data.json is not valid",
    [reason, "Run `aggregate validate FILE` for a full check; this page reads the file again every 30 seconds."],
    problems,
  );
}

function renderUnreachable(error) {
  if (document.body.dataset.state === "ready" || document.body.dataset.state === "empty") {
    // Keep the last figures, say they may be old (once).
    if ($("status").querySelector(".warn") === null) {
      const text = " \u00b7 cannot reach the server, showing the last data read";
      $("status").append(el("span", { class: "warn", text }));
    }
    return;
  }
  setState("error");
  showSections(false);
  replace($("status"), ["No connection."]);
  showMessage("error", "Cannot read the data", [String(error), "Is `aggregate serve` still running?"], null);
}

function render(doc) {
  const now = pageNow();
  replace($("status"), statusLine(doc, now));
  renderWindows($("window-list"), doc, now);
  renderDaily($("daily-body"), doc);
  renderModels($("models-body"), doc);
  showSections(true);
  const notes = [];
  if (isEmpty(doc)) {
    const searched = doc.scan && doc.scan.roots ? doc.scan.roots : [];
    const roots = searched.length > 0 ? " (searched " + searched.join(", ") + ")" : "";
    notes.push(
      "The last run found no Claude Code usage" +
        roots +
        ", so every figure is zero. Point `aggregate run` at your Claude config directory with `--claude-dir DIR`.",
    );
  }
  if (isStale(doc, now)) {
    notes.push("This file is more than an hour old: is the scheduled `aggregate run` still running?");
  }
  if (notes.length > 0) {
    showMessage("info", isEmpty(doc) ? "No usage recorded yet" : "Old data", notes, null);
  } else {
    hideMessage();
  }
  setState(isEmpty(doc) ? "empty" : "ready");
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") {
      return body.message;
    }
  } catch {
    // Not JSON: fall through.
  }
  return null;
}

async function refresh() {
  let response;
  try {
    response = await fetch(DATA_URL, { cache: "no-store", headers: { Accept: "application/json" } });
  } catch (error) {
    renderUnreachable(error);
    return;
  }
  if (response.status === 404) {
    renderMissing(await errorMessage(response));
    return;
  }
  if (!response.ok) {
    const message = await errorMessage(response);
    renderInvalid(message || "The server answered " + response.status + " " + response.statusText + ".", []);
    return;
  }
  const text = await response.text();
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    // The parser's message quotes the input; say where instead, never what.
    renderInvalid("It is not JSON: " + jsonProblem(text), []);
    return;
  }
  const problems = validateLiveData(doc);
  if (problems.length > 0) {
    renderInvalid("Some fields do not have the expected shape:", problems);
    return;
  }
  try {
    render(doc);
  } catch (error) {
    renderInvalid("It could not be rendered (" + (error && error.name ? error.name : "error") + ").", []);
  }
}

refresh();
window.setInterval(refresh, REFRESH_MS);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    refresh();
  }
});

/** Where a text stops being JSON, without quoting it: "it ends too early" or "at character N". */
function jsonProblem(text) {
  if (text.trim() === "") {
    return "the file is empty.";
  }
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const ch of text) {
    if (inString) {
      if (escaped) {
        escaped = false;
      } else if (ch === "\\") {
        escaped = true;
      } else if (ch === '"') {
        inString = false;
      }
    } else if (ch === '"') {
      inString = true;
    } else if (ch === "{" || ch === "[") {
      depth += 1;
    } else if (ch === "}" || ch === "]") {
      depth -= 1;
    }
  }
  if (inString || depth > 0) {
    return "it ends too early (" + text.length + " characters read).";
  }
  return "its syntax is broken (" + text.length + " characters).";
}
