// A hand-written check of the live-data.json fields this page uses.
//
// It returns a list of problems, each naming the field by its path, so that a broken file
// gives a clear message instead of a blank page. Fields the page does not use are not
// checked; `aggregate validate FILE` checks a file against the whole schema.

const SOURCES = ["oauth", "estimate"];
const PACE_STATUSES = ["ahead", "on_track", "behind"];
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_PROBLEMS = 12;

function describe(value) {
  if (value === undefined) {
    return "nothing (the field is missing)";
  }
  if (value === null) {
    return "null";
  }
  if (Array.isArray(value)) {
    return "an array";
  }
  if (typeof value === "string") {
    // The text itself is not shown: the page never echoes file content.
    return "a string of " + value.length + (value.length === 1 ? " character" : " characters");
  }
  if (typeof value === "object") {
    return "an object";
  }
  return String(value);
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function isTime(value) {
  return typeof value === "string" && value.includes("T") && !Number.isNaN(Date.parse(value));
}

class Checker {
  constructor() {
    this.problems = [];
  }

  fail(path, expected, value) {
    if (this.problems.length < MAX_PROBLEMS) {
      this.problems.push(path + ": expected " + expected + ", found " + describe(value));
    }
    return false;
  }

  // Each check returns whether the value passed; an absent optional field passes.
  object(path, value) {
    return isObject(value) || this.fail(path, "an object", value);
  }

  array(path, value) {
    return Array.isArray(value) || this.fail(path, "an array", value);
  }

  string(path, value, optional) {
    if (optional && (value === undefined || value === null)) {
      return true;
    }
    return typeof value === "string" || this.fail(path, "a string", value);
  }

  number(path, value, { optional = false, nullable = false, min = -Infinity } = {}) {
    if ((optional && value === undefined) || (nullable && value === null)) {
      return true;
    }
    const what = min === 0 ? "a number of at least 0" : "a number";
    const expected = nullable ? what + " or null" : what;
    return (isNumber(value) && value >= min) || this.fail(path, expected, value);
  }

  count(path, value, optional) {
    if (optional && value === undefined) {
      return true;
    }
    return (
      (Number.isInteger(value) && value >= 0) || this.fail(path, "a whole number of at least 0", value)
    );
  }

  time(path, value, { optional = false, nullable = false } = {}) {
    if ((optional && value === undefined) || (nullable && value === null)) {
      return true;
    }
    const expected = nullable ? "an RFC 3339 time or null" : "an RFC 3339 time";
    return isTime(value) || this.fail(path, expected, value);
  }

  oneOf(path, value, allowed, optional) {
    if (optional && (value === undefined || value === null)) {
      return true;
    }
    const expected = "one of " + allowed.map((a) => JSON.stringify(a)).join(", ");
    return allowed.includes(value) || this.fail(path, expected, value);
  }

  counts(path, value, optional) {
    this.number(path + ".costUsd", value.costUsd, { optional, min: 0 });
    this.count(path + ".totalTokens", value.totalTokens, optional);
    this.count(path + ".messages", value.messages, optional);
  }
}

function checkWindow(c, path, w) {
  if (!c.object(path, w)) {
    return;
  }
  c.string(path + ".id", w.id, true);
  c.string(path + ".label", w.label, false);
  c.number(path + ".used", w.used, { min: 0 });
  c.number(path + ".cap", w.cap, { nullable: true, min: 0 });
  c.number(path + ".pct", w.pct, { nullable: true, min: 0 });
  c.oneOf(path + ".source", w.source, SOURCES, true);
  c.time(path + ".resetsAt", w.resetsAt, { optional: true, nullable: true });
  c.count(path + ".tokens", w.tokens, true);
  c.number(path + ".costUsd", w.costUsd, { optional: true, min: 0 });
  c.count(path + ".messages", w.messages, true);
  if (w.pace !== undefined && w.pace !== null && c.object(path + ".pace", w.pace)) {
    c.number(path + ".pace.elapsedPct", w.pace.elapsedPct, { min: 0 });
    c.number(path + ".pace.usedPct", w.pace.usedPct);
    c.oneOf(path + ".pace.status", w.pace.status, PACE_STATUSES, false);
  }
  if (w.forecast !== undefined && w.forecast !== null && c.object(path + ".forecast", w.forecast)) {
    const f = w.forecast;
    c.number(path + ".forecast.ratePctPerHour", f.ratePctPerHour);
    c.time(path + ".forecast.reachesLimitAt", f.reachesLimitAt, { nullable: true });
    if (typeof f.beforeReset !== "boolean") {
      c.fail(path + ".forecast.beforeReset", "true or false", f.beforeReset);
    }
    c.number(path + ".forecast.pctAtReset", f.pctAtReset, { nullable: true });
  }
  if (w.calibration !== undefined && w.calibration !== null && c.object(path + ".calibration", w.calibration)) {
    c.count(path + ".calibration.readings", w.calibration.readings, false);
    c.time(path + ".calibration.newestAt", w.calibration.newestAt, {});
    c.number(path + ".calibration.opusWeight", w.calibration.opusWeight, { min: 0 });
  }
}

/**
 * Checks a parsed live-data.json document. Returns the problems found (at most a dozen),
 * each as "path: expected ..., found ...", or an empty list when the page can render it.
 */
export function validateLiveData(doc) {
  const c = new Checker();
  if (!c.object("the file", doc)) {
    return c.problems;
  }
  c.count("schemaVersion", doc.schemaVersion, false);
  c.time("generatedAt", doc.generatedAt);
  c.string("timezone", doc.timezone, true);
  if (c.object("usage", doc.usage) && c.object("usage.claudeWindow", doc.usage.claudeWindow)) {
    const cw = doc.usage.claudeWindow;
    const base = "usage.claudeWindow";
    c.string(base + ".plan", cw.plan, false);
    c.oneOf(base + ".source", cw.source, SOURCES, true);
    c.number(base + ".pctUsed", cw.pctUsed, { nullable: true, min: 0 });
    c.count(base + ".messagesUsed", cw.messagesUsed, false);
    if (c.array(base + ".windows", cw.windows)) {
      cw.windows.forEach((w, i) => checkWindow(c, base + ".windows[" + i + "]", w));
    }
    if (cw.authoritative !== undefined && cw.authoritative !== null) {
      if (c.object(base + ".authoritative", cw.authoritative)) {
        c.time(base + ".authoritative.fetchedAt", cw.authoritative.fetchedAt);
      }
    }
  }
  if (c.array("daily", doc.daily)) {
    doc.daily.forEach((day, i) => {
      const path = "daily[" + i + "]";
      if (c.object(path, day)) {
        if (typeof day.date !== "string" || !DATE_RE.test(day.date)) {
          c.fail(path + ".date", "a date YYYY-MM-DD", day.date);
        }
        c.counts(path, day, false);
      }
    });
  }
  if (doc.modelUsage !== undefined && c.array("modelUsage", doc.modelUsage)) {
    doc.modelUsage.forEach((m, i) => {
      const path = "modelUsage[" + i + "]";
      if (c.object(path, m)) {
        c.string(path + ".model", m.model, false);
        c.counts(path, m, false);
      }
    });
  }
  if (doc.totals !== undefined && doc.totals !== null && c.object("totals", doc.totals)) {
    c.counts("totals", doc.totals, false);
  }
  if (doc.scan !== undefined && doc.scan !== null && c.object("scan", doc.scan)) {
    c.count("scan.files", doc.scan.files, false);
  }
  return c.problems;
}
