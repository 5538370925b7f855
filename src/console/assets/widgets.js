// Pieces every page uses: a data table in a card (or a note when there are no rows), a copy
// button, and a filter form that writes its values into the address.

import { copyText, h, toast } from "./dom.js";
import { t } from "./i18n.js";

/** A table of `rows` (tr elements) under translated `headers`, or `empty` when none. */
export function dataTable(id, headers, rows, empty, cls = "table") {
  if (!rows.length) return h("div", { class: "empty", id: `${id}-empty` }, empty);
  return h(
    "div",
    { class: "card table-card" },
    h("table", { class: cls, id }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows)),
  );
}

/** A button copying `text`, confirming with `done`. */
export function copyButton(label, text, done, attrs = {}) {
  const click = async () => toast((await copyText(text)) ? done : t("Could not copy; select the text instead."));
  return h("button", { type: "button", class: "button", ...attrs, on: { click } }, label);
}

/** A filter form whose submission sets `#/<page>?<non-empty fields>`. */
export function filterForm(page, attrs, ...children) {
  const form = h("form", {
    class: "card filters",
    ...attrs,
    on: {
      submit: (event) => {
        event.preventDefault();
        const query = new URLSearchParams();
        for (const [key, value] of new FormData(form)) if (value) query.set(key, String(value));
        location.hash = `#/${page}?${query}`;
      },
    },
  });
  form.append(...children);
  return form;
}

/** The Clear and Search buttons of a filter form. */
export function filterButtons(page, ...before) {
  return h(
    "div",
    { class: "filter-actions" },
    ...before,
    h("span", { class: "spacer" }),
    h("a", { class: "button button-quiet", href: `#/${page}` }, t("Clear")),
    h("button", { type: "submit", class: "button button-primary", id: `${page}-search` }, t("Search")),
  );
}
