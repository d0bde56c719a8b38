// when: the one way Shian's pages show a date or a time. Every instant is
// shown as "YYYY-MM-DD HH:mm" on the event's wall clock — Beijing time
// (UTC+8) unless the assurance configuration's kpi.utc_offset says
// otherwise — whatever time zone the browser or the kiosk's system is set
// to, and a range shows both of its ends:
//
//   import { formatWhen, formatRange, formatClock, eventDay } from "./when.js";
//   formatWhen("2026-12-02T08:30:00Z")                          // "2026-12-02 16:30"
//   formatRange("2026-12-02T08:30:00Z", "2026-12-03T12:30:00Z") // "2026-12-02 16:30 – 2026-12-03 20:30"
//   formatRange("2026-12-02T08:30:00Z", "2026-12-02T10:00:00Z") // "2026-12-02 16:30–18:00"
//   formatClock(iso)                                            // "16:30" today, else as formatWhen
//   eventDay()                                                  // today there, "2026-12-02"
//   wallToISO("2026-12-02T16:30")                               // a datetime-local input's value as an instant
//   isoToWall(iso)                                              // an instant as a datetime-local value
//   dayStart("2026-12-01"), dayEnd("2026-12-01")                // "2026-12-01T00:00:00+08:00", "…T23:59:59.999+08:00"
//
// The offset is a number, not a zone name, so nothing depends on the
// browser's time zone database; the command centre sets it from
// GET /api/v1/ui-config (utc_offset_s) with setUTCOffset. The format is the
// same in zh-CN and English (ISO dates read the same in both).
//
// Served by internal/jswhen at /js/when.js to both the command centre's
// pages (command/web) and the kiosk's screen (kiosk/ui): there is one copy.

let offsetMs = 28800e3; // +8 h, Beijing time

/** Sets the event's offset from UTC in seconds (28800 for Beijing time). */
export function setUTCOffset(seconds) {
  if (Number.isFinite(seconds) && Math.abs(seconds) <= 14 * 3600) offsetMs = seconds * 1000;
}

/** The event's offset from UTC in seconds. */
export function utcOffset() {
  return offsetMs / 1000;
}

const ms = (v) => (v instanceof Date ? v.getTime() : typeof v === "number" ? v : Date.parse(v));

/** "YYYY-MM-DDTHH:mm" on the event's clock, or "" for no time. */
function wall(v) {
  if (v === undefined || v === null || v === "") return "";
  const t = ms(v);
  if (!Number.isFinite(t)) return "";
  return new Date(t + offsetMs).toISOString().slice(0, 16);
}

/** An instant (ISO string, Date or milliseconds) as "YYYY-MM-DD HH:mm". */
export function formatWhen(v) {
  return wall(v).replace("T", " ");
}

/** The event's civil day of an instant (default now) as "YYYY-MM-DD". */
export function eventDay(v = Date.now()) {
  return wall(v).slice(0, 10);
}

/** "HH:mm" for an instant of today (the event's day), else formatWhen. */
export function formatClock(v, now = Date.now()) {
  const w = wall(v);
  if (!w) return "";
  return w.slice(0, 10) === eventDay(now) ? w.slice(11) : w.replace("T", " ");
}

/**
 * A range: "YYYY-MM-DD HH:mm – YYYY-MM-DD HH:mm", or "YYYY-MM-DD HH:mm–HH:mm"
 * when both ends fall on the same day. A missing end shows the start only.
 */
export function formatRange(a, b) {
  const x = wall(a);
  const y = wall(b);
  if (!x) return y ? formatWhen(b) : "";
  if (!y) return formatWhen(a);
  if (x.slice(0, 10) === y.slice(0, 10)) return `${x.replace("T", " ")}–${y.slice(11)}`;
  return `${x.replace("T", " ")} – ${y.replace("T", " ")}`;
}

/** An instant as a datetime-local input's value on the event's clock. */
export function isoToWall(v) {
  return wall(v);
}

/**
 * A datetime-local (or date) input's value, read on the event's clock, as
 * an ISO instant; "" when it does not parse.
 */
export function wallToISO(v) {
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::(\d{2}))?)?$/.exec(String(v || "").trim());
  if (!m) return "";
  const t = Date.parse(`${m[1]}T${m[2] || "00:00"}:${m[3] || "00"}Z`);
  return Number.isFinite(t) ? new Date(t - offsetMs).toISOString() : "";
}

// The event's offset as RFC 3339 writes it: "+08:00".
export function offsetSuffix() {
  const m = Math.round(Math.abs(offsetMs) / 60000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${offsetMs < 0 ? "-" : "+"}${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
}

/** The first instant of an event day ("YYYY-MM-DD"), in RFC 3339 with the event's offset. */
export function dayStart(day) {
  return `${day}T00:00:00${offsetSuffix()}`;
}

/** The last millisecond of an event day, in RFC 3339 with the event's offset. */
export function dayEnd(day) {
  return `${day}T23:59:59.999${offsetSuffix()}`;
}
