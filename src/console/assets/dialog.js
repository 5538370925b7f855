// Confirmation before every change: a modal dialog naming what will happen, with the fields the
// change needs (a reason, a date, ...). Resolves to the entered values, or null when cancelled.

import { h } from "./dom.js";
import { t } from "./i18n.js";

/**
 * `fields` are elements with a `name` (inputs, selects) or any content; `danger` colours the
 * confirm button red.
 */
export function confirmChange({ title, message, fields = [], confirm, danger = false }) {
  return new Promise((resolve) => {
    const error = h("div", { class: "alert alert-error", hidden: true });
    const form = h(
      "form",
      { method: "dialog", class: "dialog-form" },
      h("h2", {}, title),
      h("p", {}, message),
      ...fields,
      error,
      h(
        "div",
        { class: "dialog-actions" },
        h("button", { type: "submit", value: "cancel", class: "button button-quiet", formnovalidate: true }, t("Cancel")),
        h("button", { type: "submit", value: "confirm", class: danger ? "button button-danger" : "button button-primary", id: "confirm-button" }, confirm),
      ),
    );
    const dialog = h("dialog", { id: "confirm-dialog", class: "dialog" }, form);
    dialog.addEventListener("close", () => {
      const values = Object.fromEntries(new FormData(form));
      dialog.remove();
      resolve(dialog.returnValue === "confirm" ? values : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A labelled field for a dialog. */
export function dialogField(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}
