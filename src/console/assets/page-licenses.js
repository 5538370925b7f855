// Licenses: every filter of GET /v1/licenses, kept in the address so a search can be bookmarked,
// and cursor pagination (the cursors already passed are kept for "Previous").

import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { dataTable, filterButtons, filterForm } from "./widgets.js";
import { t } from "./i18n.js";
import { badge, dayStart, expiry, idTail, orDash, shortId, when } from "./format.js";

const TEXT_FILTERS = [
  ["order_id", "Order ID"],
  ["customer_id", "Customer ID"],
  ["instance_id", "Instance ID"],
  ["product_id", "Product ID"],
  ["sku_code", "SKU code"],
];
const DATE_FILTERS = [
  ["created_after", "Created from"],
  ["created_before", "Created before"],
  ["expires_after", "Expires from"],
  ["expires_before", "Expires before"],
];
const STATES = ["active", "suspended", "frozen", "revoked", "released"];

function input(name, label, params, type = "text") {
  return h(
    "label",
    { class: "field" },
    h("span", {}, t(label)),
    h("input", { id: `f-${name}`, name, type, value: params.get(name) || "", autocomplete: "off" }),
  );
}

function filters(params) {
  return filterForm(
    "licenses",
    { id: "license-filters" },
    h("div", { class: "filter-grid" }, TEXT_FILTERS.map(([n, l]) => input(n, l, params))),
    h(
      "div",
      { class: "filter-grid" },
      h(
        "label",
        { class: "field" },
        h("span", {}, t("State")),
        h("select", { id: "f-status", name: "status" }, h("option", { value: "" }, t("any")), STATES.map((s) => h("option", { value: s, selected: params.get("status") === s }, t(s)))),
      ),
      DATE_FILTERS.map(([n, l]) => input(n, l, params, "date")),
    ),
    filterButtons(
      "licenses",
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "include_test", value: "true", checked: params.get("include_test") === "true" }), t("Include marketplace test traffic")),
    ),
  );
}

function query(params) {
  const q = { limit: 25 };
  for (const [name] of TEXT_FILTERS) q[name] = params.get(name)?.trim();
  for (const [name] of DATE_FILTERS) q[name] = dayStart(params.get(name));
  q.status = params.get("status");
  q.include_test = params.get("include_test") === "true";
  q.cursor = params.get("cursor");
  return q;
}

function row(license) {
  return h(
    "tr",
    { class: "license-row", "data-license": license.license_id },
    h("td", {}, h("a", { href: `#/licenses/${encodeURIComponent(license.license_id)}` }, idTail(license.license_id))),
    h("td", { class: "mono" }, orDash(license.order_id)),
    h("td", {}, h("div", { class: "customer-name" }, orDash(license.customer_name)), license.customer_id ? h("div", { class: "sub" }, shortId(license.customer_id, 12)) : null),
    h("td", {}, license.product_id, license.sku_code ? h("div", { class: "sub" }, license.sku_code) : null),
    h("td", {}, badge(license.status), license.test ? h("span", { class: "badge badge-test" }, t("test")) : null),
    h("td", {}, expiry(license.expires_at)),
    h("td", {}, when(license.created_at)),
  );
}

export async function render(main, { params, isCurrent }) {
  const data = await api.get("/v1/licenses", query(params));
  if (!isCurrent()) return;
  const trail = (params.get("trail") || "").split(",").filter(Boolean);
  const pageLink = (cursor, nextTrail) => {
    const next = new URLSearchParams(params);
    next.delete("cursor");
    next.delete("trail");
    if (cursor) next.set("cursor", cursor);
    if (nextTrail.length) next.set("trail", nextTrail.join(","));
    return `#/licenses?${next}`;
  };
  const current = params.get("cursor") || "";
  const previous = trail.length ? pageLink(trail[trail.length - 1] === "-" ? "" : trail[trail.length - 1], trail.slice(0, -1)) : null;
  const next = data.next_cursor ? pageLink(data.next_cursor, [...trail, current || "-"]) : null;
  fill(
    main,
    h("h1", {}, t("Licenses")),
    filters(params),
    dataTable("licenses-table", [t("License"), t("Order"), t("Customer"), t("Product"), t("State"), t("Expires"), t("Created")], data.licenses.map(row), t("No license matches these filters.")),
    h(
      "div",
      { class: "pager" },
      previous ? h("a", { class: "button button-quiet", href: previous, id: "page-previous" }, t("Previous")) : null,
      h("span", { class: "muted" }, t("Page {n}", { n: trail.length + 1 })),
      next ? h("a", { class: "button button-quiet", href: next, id: "page-next" }, t("Next")) : null,
    ),
  );
}
