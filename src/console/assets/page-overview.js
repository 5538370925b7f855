// The overview a merchant opens every morning: licenses issued per day, licenses by state,
// KooMarket callbacks per day with the failed ones against the marketplace's monthly limit, and
// the outbox backlog.

import { api } from "./api.js";
import { categoryBars, dailyBars, limitMeter } from "./chart.js";
import { fill, h } from "./dom.js";
import { t } from "./i18n.js";
import { label, when } from "./format.js";
import { FAILED_ORDERS_PER_MONTH, failedOrdersThisMonth, loadFailedCalls } from "./page-calls.js";

const DAYS = 30;
const STATES = ["active", "suspended", "frozen", "revoked", "released"];

function kpi(label, value, note, id) {
  return h("div", { class: "card kpi", id }, h("div", { class: "kpi-label" }, label), h("div", { class: "kpi-value" }, value), note ? h("div", { class: "kpi-note" }, note) : null);
}

function card(title, ...body) {
  return h("section", { class: "card" }, h("h2", {}, title), ...body);
}

export async function render(main, { isCurrent }) {
  const [stats, failed] = await Promise.all([api.get("/v1/stats", { days: DAYS }), loadFailedCalls().catch(() => ({ available: false, calls: [] }))]);
  if (!isCurrent()) return;
  const labels = stats.days.map((d) => d.date);
  const issued = stats.days.map((d) => d.licenses_issued);
  const byState = stats.licenses_by_status;
  const failedPerDay = labels.map((date) => failed.calls.filter((c) => c.at && String(c.at).slice(0, 10) === date).length);
  const used = failedOrdersThisMonth(failed.calls);
  const total = issued.reduce((a, b) => a + b, 0);

  const limitCard = failed.available
    ? kpi(t("Failed orders this month"), `${used} / ${FAILED_ORDERS_PER_MONTH}`, limitMeter(used, FAILED_ORDERS_PER_MONTH), "kpi-failed")
    : kpi(t("Failed orders this month"), "—", t("not recorded by this server"), "kpi-failed");
  const series = [{ name: t("Recorded callbacks"), values: stats.days.map((d) => d.marketplace_events), cls: "series-calls" }];
  if (failed.available) series.push({ name: t("Failed calls"), values: failedPerDay, cls: "series-failed" });

  fill(
    main,
    h("div", { class: "page-head" }, h("h1", {}, t("Overview")), h("span", { class: "muted" }, t("Updated {time}", { time: when(stats.generated_at) }))),
    h(
      "div",
      { class: "kpis" },
      kpi(t("Active licenses"), byState.active ?? 0, t("{n} suspended · {m} frozen", { n: byState.suspended ?? 0, m: byState.frozen ?? 0 }), "kpi-active"),
      kpi(t("Issued in {days} days", { days: DAYS }), total, t("{n} revoked in total", { n: byState.revoked ?? 0 }), "kpi-issued"),
      limitCard,
      kpi(
        t("Outbox backlog"),
        stats.outbox.pending,
        stats.outbox.failed ? t("{n} failed — retry them on the Outbox page", { n: stats.outbox.failed }) : stats.outbox.oldest_pending_at ? t("oldest since {time}", { time: when(stats.outbox.oldest_pending_at) }) : t("nothing waiting"),
        "kpi-outbox",
      ),
    ),
    h(
      "div",
      { class: "grid-2" },
      card(t("Licenses issued per day"), dailyBars(labels, [{ name: t("Licenses issued"), values: issued, cls: "series-issued" }], { title: t("Licenses issued per day") })),
      card(
        t("Marketplace calls per day"),
        dailyBars(labels, series, { title: t("Marketplace calls per day") }),
        failed.available ? null : h("p", { class: "hint" }, t("Failed calls are not recorded by this server yet; only the callbacks it answered and stored are counted.")),
      ),
    ),
    h(
      "div",
      { class: "grid-2" },
      card(t("Licenses by state"), categoryBars(STATES.map((state) => ({ label: label(state), value: byState[state] ?? 0, cls: `state-${state}` })))),
      card(
        t("KooMarket's failed-order rule"),
        h("p", {}, t("KooMarket counts every answer other than success; a product with more than {limit} failed orders in a month may be delisted.", { limit: FAILED_ORDERS_PER_MONTH })),
        failed.available
          ? h("div", { class: "rule" }, limitMeter(used, FAILED_ORDERS_PER_MONTH), h("p", {}, t("{used} of {limit} failed orders this month (Beijing time). KooMarket may delist a product with more than {limit}.", { used, limit: FAILED_ORDERS_PER_MONTH })))
          : h("p", { class: "hint" }, t("This server does not record failed marketplace calls yet (GET /v1/marketplace/calls). Until it does, look for them in the service log and in the seller console's production-interface messages.")),
        h("a", { href: "#/calls" }, t("Failed marketplace calls"), " →"),
      ),
    ),
  );
}
