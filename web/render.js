// Rendering a checked live-data.json document.

import { el, replace, svg } from "./dom.js";
import * as fmt from "./format.js";

const HOUR = 3600 * 1000;

export const SOURCE_TEXT = {
  oauth: {
    badge: "Live",
    explain: "read from Anthropic's own usage endpoint",
  },
  estimate: {
    badge: "Estimate",
    explain: "computed from local transcripts against the plan's guideline cap",
  },
};

/** `oauth` or `estimate`; a window without a source (an older file) is an estimate. */
export function sourceOf(window) {
  return window.source === "oauth" ? "oauth" : "estimate";
}

function windowLength(id) {
  if (id === "five_hour") {
    return "5 h";
  }
  if (typeof id === "string" && id.startsWith("seven_day")) {
    return "7 days";
  }
  return null;
}

function lookback(id) {
  return id === "five_hour" ? "the last hour" : "the last 24 h";
}

function badge(source) {
  const text = SOURCE_TEXT[source];
  return el("span", { class: "badge badge-" + source, attrs: { title: text.badge + ": " + text.explain } }, [
    el("span", { class: "badge-text", text: text.badge }),
    el("span", { class: "visually-hidden", text: " (" + text.explain + ")" }),
  ]);
}

function level(pct) {
  if (pct >= 90) {
    return "critical";
  }
  if (pct >= 70) {
    return "warning";
  }
  return "normal";
}

function meter(w) {
  if (w.pct === null || w.pct === undefined) {
    return el("div", { class: "meter meter-unknown" }, [
      el("span", { class: "pct no-cap", text: "no cap known" }),
    ]);
  }
  const shown = Math.min(Math.max(w.pct, 0), 100);
  const fill = el("div", { class: "fill fill-" + level(w.pct) });
  fill.style.width = shown + "%";
  const over = w.pct > 100 ? " (over the cap)" : "";
  const bar = el(
    "div",
    {
      class: "bar",
      attrs: {
        role: "progressbar",
        "aria-label": w.label + " used",
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        "aria-valuenow": Math.round(shown * 10) / 10,
        "aria-valuetext": fmt.pct(w.pct) + " used" + over,
      },
    },
    [fill],
  );
  return el("div", { class: "meter" }, [bar, el("span", { class: "pct", text: fmt.pct(w.pct) })]);
}

function resetLine(w, now) {
  if (!w.resetsAt) {
    const why = windowLength(w.id) === "7 days" && sourceOf(w) === "estimate" ? " (rolling window)" : "";
    return el("p", { class: "reset", text: "no reset time" + why });
  }
  const at = new Date(w.resetsAt);
  const left = at.getTime() - now.getTime();
  const absolute = fmt.localTime(at, now);
  if (left <= 0) {
    return el("p", { class: "reset", text: "reset at " + absolute + " (passed; waiting for newer data)" });
  }
  return el("p", { class: "reset" }, [
    el("span", { class: "reset-relative", text: "resets in " + fmt.duration(left) }),
    " ",
    el("time", { class: "reset-absolute", text: "(" + absolute + ")", attrs: { datetime: w.resetsAt } }),
  ]);
}

function localFigures(w) {
  const parts = [];
  if (w.tokens !== undefined) {
    parts.push(fmt.count(w.tokens) + " tokens");
  }
  if (w.costUsd !== undefined) {
    parts.push(fmt.usd(w.costUsd) + " at list price");
  }
  if (w.messages !== undefined) {
    parts.push(fmt.count(w.messages) + (w.messages === 1 ? " message" : " messages"));
  }
  if (parts.length === 0) {
    // An older file: only `used` and `cap`, in dollars of list price.
    parts.push(fmt.usd(w.used) + (typeof w.cap === "number" ? " of a " + fmt.usd(w.cap) + " cap" : ""));
  }
  return parts.join(" \u00b7 ");
}

function basisLine(w, doc, now) {
  if (sourceOf(w) === "oauth") {
    const auth = doc.usage.claudeWindow.authoritative;
    const local = "local use: " + localFigures(w);
    if (auth && auth.fetchedAt) {
      const ago = now.getTime() - new Date(auth.fetchedAt).getTime();
      const when = ago >= 0 ? "updated " + fmt.duration(ago) + " ago" : "updated just now";
      return el("p", { class: "basis" }, [el("span", { class: "updated", text: when }), " \u00b7 " + local]);
    }
    return el("p", { class: "basis", text: local });
  }
  const basis = "Based on " + localFigures(w);
  const cal = w.calibration;
  if (cal && typeof cal.readings === "number" && cal.readings > 0) {
    const ago = now.getTime() - new Date(cal.newestAt).getTime();
    const readings = cal.readings === 1 ? "1 reading" : fmt.count(cal.readings) + " readings";
    const newest = ago >= 0 ? ", newest " + fmt.duration(ago) + " ago" : "";
    return el("p", { class: "basis" }, [
      el("span", { class: "calibrated", text: "Estimate, calibrated from " + readings + newest }),
      " \u00b7 " + basis,
    ]);
  }
  return el("p", { class: "basis", text: basis });
}

const PACE_TEXT = {
  ahead: "Ahead of pace",
  on_track: "On pace",
  behind: "Behind pace",
};

function paceLine(w) {
  if (w.pace) {
    const p = w.pace;
    const room = p.status === "behind" ? " (room to spare)" : "";
    const used = fmt.pct(p.usedPct) + " used with " + fmt.pct(p.elapsedPct) + " of the window gone";
    const text = PACE_TEXT[p.status] + ": " + used + room;
    return el("p", { class: "pace pace-" + p.status, text });
  }
  if ("pace" in w && w.pct !== null && !w.resetsAt) {
    const text = w.id === "five_hour" ? "No active session" : "No pace: a rolling window has no fixed start";
    return el("p", { class: "pace", text });
  }
  return null;
}

function rateText(f, w) {
  if (f.ratePctPerHour <= 0) {
    return "No use in " + lookback(w.id);
  }
  const r = f.ratePctPerHour;
  const rate = r < 0.01 ? "under 0.01%/h" : (r < 1 ? String(Math.round(r * 100) / 100) + "%" : fmt.pct(r)) + "/h";
  return "At the rate of " + lookback(w.id) + " (" + rate + ")";
}

function forecastLine(w, now) {
  const f = w.forecast;
  if (!f) {
    if ("forecast" in w && w.pct !== null && w.pct !== undefined) {
      return el("p", { class: "forecast", text: "Forecast: no recent rate known" });
    }
    return null;
  }
  if (w.pct !== null && w.pct >= 100) {
    return el("p", { class: "forecast forecast-limit", text: "At or over the limit" });
  }
  if (w.pct === 0 && f.ratePctPerHour <= 0) {
    // Nothing used and nothing recent: no forecast worth a line.
    return null;
  }
  let text;
  if (f.reachesLimitAt) {
    const at = new Date(f.reachesLimitAt);
    const left = at.getTime() - now.getTime();
    const when = fmt.localTime(at, now);
    const tail = f.beforeReset ? ", before the reset" : "";
    text =
      left > 0
        ? rateText(f, w) + ": 100% in " + fmt.duration(left) + " (" + when + ")" + tail
        : rateText(f, w) + ": 100% around " + when + tail;
  } else if (w.resetsAt) {
    const atReset = typeof f.pctAtReset === "number" ? " (about " + fmt.pct(f.pctAtReset) + " at the reset)" : "";
    text = rateText(f, w) + ": 100% not before the reset" + atReset;
  } else {
    const length = windowLength(w.id);
    text = rateText(f, w) + ": 100% not within " + (length || "the window's length");
  }
  const cls = f.reachesLimitAt && f.beforeReset ? "forecast forecast-limit" : "forecast";
  return el("p", { class: cls, text });
}

function windowRow(w, doc, now) {
  const source = sourceOf(w);
  return el(
    "article",
    {
      class: "window",
      attrs: { "data-window-id": w.id || "", "data-source": source, "aria-label": w.label },
    },
    [
      el("div", { class: "window-head" }, [el("h3", { class: "window-label", text: w.label }), badge(source)]),
      meter(w),
      resetLine(w, now),
      basisLine(w, doc, now),
      paceLine(w),
      forecastLine(w, now),
    ],
  );
}

/** The rows of the usage windows. */
export function renderWindows(list, doc, now) {
  const windows = doc.usage.claudeWindow.windows;
  if (windows.length === 0) {
    replace(list, [el("p", { class: "note", text: "This file has no usage windows." })]);
    return;
  }
  replace(
    list,
    windows.map((w) => windowRow(w, doc, now)),
  );
}

/** The line under the title: plan, source and age of the file. */
export function statusLine(doc, now) {
  const cw = doc.usage.claudeWindow;
  const generated = new Date(doc.generatedAt);
  const age = now.getTime() - generated.getTime();
  const live = cw.windows.filter((w) => sourceOf(w) === "oauth").length;
  let sourceText = live + " of " + cw.windows.length + " live";
  if (live === 0) {
    sourceText = "all estimates";
  } else if (live === cw.windows.length) {
    sourceText = "all live";
  }
  const ageText = age >= 0 ? fmt.duration(age) + " ago" : "just now";
  const parts = [
    el("span", { text: "Plan " + cw.plan }),
    el("span", { text: sourceText }),
    el("span", {}, [
      "file written " + ageText + " ",
      el("time", { text: "(" + fmt.localTime(generated, now) + ")", attrs: { datetime: doc.generatedAt } }),
    ]),
  ];
  const nodes = [];
  parts.forEach((p, i) => {
    if (i > 0) {
      nodes.push(" \u00b7 ");
    }
    nodes.push(p);
  });
  return nodes;
}

/** Whether the file was written more than an hour before `now`. */
export function isStale(doc, now) {
  return now.getTime() - new Date(doc.generatedAt).getTime() > HOUR;
}

/** Whether the file holds no usage at all (no transcripts found, or none with usage). */
export function isEmpty(doc) {
  if (doc.scan && doc.scan.files === 0) {
    return true;
  }
  const total = doc.totals ? doc.totals.messages : doc.daily.reduce((sum, d) => sum + d.messages, 0);
  return total === 0 && doc.usage.claudeWindow.windows.every((w) => !w.messages && !w.used);
}

function barChart(title, dates, values, describeDay, formatMax) {
  const width = 300;
  const height = 60;
  const max = Math.max(...values);
  const step = width / values.length;
  const bars = values.map((v, i) => {
    const h = max > 0 ? Math.max((v / max) * height, v > 0 ? 1.5 : 0) : 0;
    return svg(
      "rect",
      {
        class: "chart-bar",
        attrs: {
          x: (i * step + 1).toFixed(2),
          y: (height - h).toFixed(2),
          width: (step - 2).toFixed(2),
          height: h.toFixed(2),
        },
      },
      [svg("title", { text: describeDay(i) })],
    );
  });
  const chart = svg(
    "svg",
    {
      class: "chart",
      attrs: {
        viewBox: "0 0 " + width + " " + height,
        preserveAspectRatio: "none",
        role: "img",
        "aria-label": title + " over the last " + values.length + " days; highest " + formatMax(max),
      },
    },
    [svg("line", { class: "chart-base", attrs: { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 } }), ...bars],
  );
  return el("figure", { class: "chart-figure" }, [
    el("figcaption", { class: "chart-title" }, [
      el("span", { text: title }),
      el("span", { class: "chart-max", text: "max " + formatMax(max) }),
    ]),
    chart,
    el("div", { class: "chart-axis" }, [
      el("span", { text: fmt.shortDate(dates[0]) }),
      el("span", { text: fmt.shortDate(dates[dates.length - 1]) }),
    ]),
  ]);
}

/** Cost and tokens per day over the 30 days up to the file's date. */
export function renderDaily(container, doc) {
  const lastDate = fmt.dateIn(new Date(doc.generatedAt), doc.timezone);
  const dates = fmt.lastDates(lastDate, 30);
  const byDate = new Map(doc.daily.map((d) => [d.date, d]));
  const days = dates.map((date) => byDate.get(date) || { date, costUsd: 0, totalTokens: 0, messages: 0 });
  const active = days.filter((d) => d.messages > 0);
  const cost = days.reduce((s, d) => s + d.costUsd, 0);
  const tokenSum = days.reduce((s, d) => s + d.totalTokens, 0);
  const messages = days.reduce((s, d) => s + d.messages, 0);
  const describeDay = (i) =>
    fmt.shortDate(days[i].date) +
    ": " +
    fmt.usd(days[i].costUsd) +
    ", " +
    fmt.count(days[i].totalTokens) +
    " tokens, " +
    fmt.count(days[i].messages) +
    " messages";
  const summary = el("p", {
    class: "summary",
    text:
      active.length === 0
        ? "No activity in the last 30 days."
        : fmt.usd(cost) +
          " at list price \u00b7 " +
          fmt.tokens(tokenSum) +
          " tokens \u00b7 " +
          fmt.count(messages) +
          " messages \u00b7 " +
          active.length +
          (active.length === 1 ? " active day" : " active days"),
  });
  const rows = active
    .slice()
    .reverse()
    .map((d) =>
      el("tr", {}, [
        el("th", { text: d.date, attrs: { scope: "row" } }),
        el("td", { text: fmt.usd(d.costUsd) }),
        el("td", { text: fmt.count(d.totalTokens) }),
        el("td", { text: fmt.count(d.messages) }),
      ]),
    );
  const table =
    rows.length === 0
      ? null
      : el("details", { class: "day-table" }, [
          el("summary", { text: "Active days as a table" }),
          el("table", {}, [
            el("thead", {}, [
              el(
                "tr",
                {},
                ["Day", "Cost", "Tokens", "Messages"].map((h) => el("th", { text: h, attrs: { scope: "col" } })),
              ),
            ]),
            el("tbody", {}, rows),
          ]),
        ]);
  replace(container, [
    summary,
    active.length > 0 &&
      el("div", { class: "charts" }, [
        barChart("Cost per day", dates, days.map((d) => d.costUsd), describeDay, fmt.usd),
        barChart("Tokens per day", dates, days.map((d) => d.totalTokens), describeDay, fmt.tokens),
      ]),
    table,
  ]);
}

/** Use per model over the whole history. */
export function renderModels(container, doc) {
  const models = doc.modelUsage || [];
  if (models.length === 0) {
    replace(container, [el("p", { class: "note", text: "No per-model figures in this file." })]);
    return;
  }
  const byCost = models.some((m) => m.costUsd > 0);
  const key = byCost ? (m) => m.costUsd : (m) => m.totalTokens;
  const total = models.reduce((s, m) => s + key(m), 0);
  const items = models.map((m) => {
    const share = total > 0 ? (key(m) / total) * 100 : 0;
    const fill = el("div", { class: "share-fill" });
    fill.style.width = share.toFixed(1) + "%";
    return el("li", { class: "model" }, [
      el("div", { class: "model-head" }, [
        el("span", { class: "model-name", text: m.model }),
        el("span", { class: "model-share", text: fmt.pct(share) }),
      ]),
      el("div", { class: "share", attrs: { "aria-hidden": "true" } }, [fill]),
      el("p", {
        class: "model-figures",
        text:
          fmt.usd(m.costUsd) +
          " \u00b7 " +
          fmt.count(m.totalTokens) +
          " tokens \u00b7 " +
          fmt.count(m.messages) +
          (m.messages === 1 ? " message" : " messages"),
      }),
    ]);
  });
  replace(container, [
    el("p", {
      class: "note",
      text: "Whole history, share of " + (byCost ? "cost at list price" : "tokens") + ".",
    }),
    el("ul", { class: "models" }, items),
  ]);
}
