// How values are shown: dates in the reader's language, states as coloured badges, ids
// shortened with the full value in a tooltip.

import { h } from "./dom.js";
import { lang, t } from "./i18n.js";

function locale() {
  return lang() === "zh" ? "zh-CN" : "en-GB";
}

/** A date and time, or a dash. */
export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" });
}

/** A date only. */
export function day(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleDateString(locale(), { dateStyle: "medium" });
}

/** An expiry: a date, or "perpetual". */
export function expiry(value) {
  return value ? when(value) : t("perpetual");
}

/** A license, job or token state as a badge. */
export function badge(state) {
  const name = String(state || "unknown");
  return h("span", { class: `badge badge-${name.replace(/[^a-z_]/g, "")}` }, t(name));
}

/** An id shortened to its first characters, the whole id as tooltip. */
export function shortId(id, length = 8) {
  const text = String(id ?? "");
  return h("span", { class: "mono", title: text }, text.length > length + 1 ? text.slice(0, length) + "…" : text);
}

/** English names of the API's codes (translated like any text). */
const NAMES = {
  active: "Active",
  suspended: "Suspended",
  frozen: "Frozen",
  revoked: "Revoked",
  released: "Released",
  pending: "Pending",
  done: "Done",
  failed: "Failed",
  koomarket_get: "KooMarket GET interface",
  koomarket_online: "KooMarket online license",
  offline: "Issued offline",
  authorization_code: "Authorization code",
  upload_license: "License upload",
  query_order: "Order query",
  system: "System identifier",
  hardware: "Hardware identifier",
  unbound: "Floating (unbound)",
};

/** The name of one of the API's codes (a state, an origin, a job kind, a binding kind). */
export function label(code) {
  return t(NAMES[code] ?? String(code ?? "—"));
}

/** The end of a time-ordered id (its distinctive part), the whole id as tooltip. */
export function idTail(id, length = 12) {
  const text = String(id ?? "");
  return h("span", { class: "mono id", title: text }, text.length > length ? "…" + text.slice(-length) : text);
}

/** A value or a dash. */
export function orDash(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

/** `yyyy-mm-dd` from a date input as the API's RFC 3339 start of that UTC day. */
export function dayStart(value) {
  return value ? `${value}T00:00:00Z` : "";
}
