// The audit log: every recorded change, by license, by actor and by time, newest pages first
// reached with the API's cursor.

import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { dataTable, filterButtons, filterForm } from "./widgets.js";
import { t } from "./i18n.js";
import { dayStart, idTail, orDash, when } from "./format.js";

export async function render(main, { params, isCurrent }) {
  const query = {
    license_id: params.get("license_id")?.trim(),
    actor: params.get("actor")?.trim(),
    after: dayStart(params.get("after")),
    before: dayStart(params.get("before")),
    cursor: params.get("cursor"),
    limit: 50,
  };
  const data = await api.get("/v1/audit", query);
  if (!isCurrent()) return;
  const field = (name, label, type = "text") =>
    h("label", { class: "field" }, h("span", {}, t(label)), h("input", { name, type, id: `a-${name}`, value: params.get(name) || "", autocomplete: "off" }));
  const form = filterForm(
    "audit",
    {},
    h("div", { class: "filter-grid" }, field("license_id", "License ID"), field("actor", "Actor (koomarket, cli, token:<id>)"), field("after", "From", "date"), field("before", "Before", "date")),
    filterButtons("audit"),
  );
  const next = new URLSearchParams(params);
  if (data.next_cursor) next.set("cursor", data.next_cursor);
  fill(
    main,
    h("h1", {}, t("Audit log")),
    form,
    dataTable(
      "audit-table",
      [t("Time"), t("Actor"), t("Action"), t("Outcome"), t("License"), t("Order"), t("Detail")],
      data.events.map((e) =>
        h(
          "tr",
          {},
          h("td", { class: "nowrap" }, when(e.at)),
          h("td", { class: "mono" }, e.actor),
          h("td", {}, e.action),
          h("td", {}, e.outcome, e.test ? h("span", { class: "badge badge-test" }, t("test")) : null),
          h("td", {}, e.license_id ? h("a", { href: `#/licenses/${encodeURIComponent(e.license_id)}` }, idTail(e.license_id)) : "—"),
          h("td", { class: "mono" }, orDash(e.order_id)),
          h("td", { class: "detail" }, orDash(e.detail)),
        ),
      ),
      t("No events match."),
    ),
    h(
      "div",
      { class: "pager" },
      params.get("cursor") ? h("a", { class: "button button-quiet", href: "#/audit" }, t("First page")) : null,
      data.next_cursor ? h("a", { class: "button button-quiet", href: `#/audit?${next}` }, t("Next")) : null,
    ),
  );
}
