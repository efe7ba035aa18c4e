// Formatting of numbers, durations and times for display.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A percentage as given, to at most one decimal: 42.5 -> "42.5%", 64 -> "64%". */
export function pct(value) {
  return String(Math.round(value * 10) / 10) + "%";
}

/** A whole number with thousands separators. */
export function count(value) {
  return Math.round(value).toLocaleString("en-US");
}

/** A compact token count: 1234 -> "1.2k", 2585200 -> "2.6M". */
export function tokens(value) {
  if (value >= 1e9) {
    return trim(value / 1e9) + "B";
  }
  if (value >= 1e6) {
    return trim(value / 1e6) + "M";
  }
  if (value >= 1e4) {
    return trim(value / 1e3) + "k";
  }
  return count(value);
}

function trim(value) {
  return String(Math.round(value * 10) / 10);
}

/** US dollars: cents, or a tenth of a cent below ten cents. */
export function usd(value) {
  if (value > 0 && value < 0.001) {
    return "under $0.001";
  }
  if (value > 0 && value < 0.1) {
    return "$" + value.toFixed(3);
  }
  return "$" + value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** A duration in milliseconds as "3 d 4 h", "2 h 14 min", "45 min" or "40 s". */
export function duration(ms) {
  const abs = Math.abs(ms);
  if (abs < MINUTE) {
    return Math.floor(abs / SECOND) + " s";
  }
  if (abs < HOUR) {
    return Math.floor(abs / MINUTE) + " min";
  }
  if (abs < DAY) {
    const h = Math.floor(abs / HOUR);
    const m = Math.floor((abs % HOUR) / MINUTE);
    return m === 0 ? h + " h" : h + " h " + m + " min";
  }
  const d = Math.floor(abs / DAY);
  const h = Math.floor((abs % DAY) / HOUR);
  return h === 0 ? d + " d" : d + " d " + h + " h";
}

/** An absolute time in the browser's zone: "Sat 14:00 UTC", with the date when not today. */
export function localTime(date, now) {
  const sameDay = date.toDateString() === now.toDateString();
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" };
  if (!sameDay) {
    options.weekday = "short";
    options.day = "numeric";
    options.month = "short";
    if (date.getFullYear() !== now.getFullYear()) {
      options.year = "numeric";
    }
  }
  return date.toLocaleString("en-GB", options);
}

/** A calendar date "YYYY-MM-DD" shown as "14 Jan". */
export function shortDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

/** The calendar date "YYYY-MM-DD" of an instant in an IANA zone (UTC if the zone is unknown). */
export function dateIn(date, timeZone) {
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: timeZone || "UTC",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    }).formatToParts(date);
  } catch {
    return date.toISOString().slice(0, 10);
  }
  const get = (type) => parts.find((p) => p.type === type).value;
  return get("year") + "-" + get("month") + "-" + get("day");
}

/** The `n` calendar dates ending with `lastDate` ("YYYY-MM-DD"), oldest first. */
export function lastDates(lastDate, n) {
  const [y, m, d] = lastDate.split("-").map(Number);
  const end = Date.UTC(y, m - 1, d);
  const dates = [];
  for (let i = n - 1; i >= 0; i -= 1) {
    dates.push(new Date(end - i * DAY).toISOString().slice(0, 10));
  }
  return dates;
}
