// Failed marketplace calls: every KooMarket call the service rejected (000001, 000002, 000003,
// 000005), from GET /v1/marketplace/calls?result=failed, so a merchant can reconcile them with
// the seller console before the marketplace's failed-order count bites. A server without that
// endpoint (older builds) is said to be so.

import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { t } from "./i18n.js";
import { orDash, shortId, when } from "./format.js";
import { dataTable } from "./widgets.js";

/** KooMarket delists a product after more than this many failed orders in a month. */
export const FAILED_ORDERS_PER_MONTH = 5;
const MAX_PAGES = 20;

function field(call, ...names) {
  for (const name of names) if (call[name] !== undefined && call[name] !== null) return call[name];
  return null;
}

/** One call in the shape the console shows, whatever the field names of the server. */
function normalise(call) {
  return {
    at: field(call, "at", "time", "received_at", "recorded_at"),
    activity: field(call, "activity"),
    code: field(call, "result_code", "resultCode", "code"),
    reason: field(call, "reason", "message", "detail"),
    order: field(call, "order_id", "orderId"),
    instance: field(call, "instance_id", "instanceId"),
    business: field(call, "business_id", "businessId"),
    test: Boolean(field(call, "test", "test_flag")),
  };
}

/** `{available, calls}`: every recorded failed call, or available=false on an older server. */
export async function loadFailedCalls() {
  const calls = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    let data;
    try {
      data = await api.get("/v1/marketplace/calls", { result: "failed", cursor, limit: 500 });
    } catch (error) {
      if (error.status === 404) return { available: false, calls: [] };
      throw error;
    }
    const items = data.calls || data.items || data.events || [];
    calls.push(...items.map(normalise));
    cursor = data.next_cursor ?? data.next_after ?? null;
    if (!cursor || items.length === 0) break;
  }
  return { available: true, calls };
}

/** Beijing time (UTC+8), where KooMarket counts its months. */
function beijingMonth(value) {
  const date = new Date(new Date(value).getTime() + 8 * 3600 * 1000);
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** Distinct orders (or instances) with a failed production call in the current month. */
export function failedOrdersThisMonth(calls, now = new Date()) {
  const month = beijingMonth(now);
  const orders = new Set();
  for (const call of calls) {
    if (!call.at || call.test || beijingMonth(call.at) !== month) continue;
    orders.add(call.order || call.instance || call.business || `${call.at}/${call.activity}`);
  }
  return orders.size;
}

export async function render(main, { isCurrent }) {
  const { available, calls } = await loadFailedCalls();
  if (!isCurrent()) return;
  if (!available) {
    fill(
      main,
      h("h1", {}, t("Failed marketplace calls")),
      h(
        "div",
        { class: "alert alert-info", id: "calls-unavailable" },
        t("This server does not record failed marketplace calls yet (GET /v1/marketplace/calls). Until it does, look for them in the service log and in the seller console's production-interface messages."),
      ),
    );
    return;
  }
  const used = failedOrdersThisMonth(calls);
  const rows = calls
    .slice()
    .sort((a, b) => String(b.at).localeCompare(String(a.at)))
    .map((c) =>
      h(
        "tr",
        {},
        h("td", {}, when(c.at)),
        h("td", {}, orDash(c.activity)),
        h("td", {}, h("span", { class: "badge badge-failed mono" }, orDash(c.code))),
        h("td", {}, orDash(c.reason)),
        h("td", { class: "mono" }, orDash(c.order)),
        h("td", {}, c.instance ? shortId(c.instance, 12) : "—"),
        h("td", {}, c.test ? t("test") : ""),
      ),
    );
  fill(
    main,
    h("h1", {}, t("Failed marketplace calls")),
    h(
      "p",
      { class: "lead" },
      t("{used} of {limit} failed orders this month (Beijing time). KooMarket may delist a product with more than {limit}.", { used, limit: FAILED_ORDERS_PER_MONTH }),
    ),
    dataTable("calls-table", [t("Time"), t("Activity"), t("resultCode"), t("Reason"), t("Order"), t("Instance"), ""], rows, t("No failed calls recorded.")),
  );
}
