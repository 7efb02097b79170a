// Webmail: recipient autocomplete from the directory, the size check of the
// compose form, and selecting every message of a list. No inline script
// (CSP script-src 'self').
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-autocomplete]")) {
    autocomplete(input);
  }
  const form = document.querySelector("form.compose");
  if (form) {
    checkSize(form);
  }
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    all.addEventListener("change", () => {
      for (const box of all.form.querySelectorAll("input[name=uid]")) {
        box.checked = all.checked;
      }
    });
  }
});

// autocomplete suggests directory entries for the recipient being typed
// (the text after the last comma) and puts the chosen address in its place.
function autocomplete(input) {
  const url = input.dataset.autocomplete;
  const list = document.createElement("ul");
  list.className = "ac";
  list.id = input.id + "-ac";
  list.setAttribute("role", "listbox");
  list.hidden = true;
  input.setAttribute("aria-controls", list.id);
  input.insertAdjacentElement("afterend", list);
  let timer = 0;
  let seq = 0;
  let active = -1;

  const current = () => {
    const parts = input.value.split(/[,;]/);
    return parts[parts.length - 1].trim();
  };
  const hide = () => {
    list.hidden = true;
    list.replaceChildren();
    active = -1;
  };
  const choose = (address) => {
    const parts = input.value.split(/[,;]/).map((p) => p.trim());
    parts[parts.length - 1] = address;
    input.value = parts.filter((p) => p !== "").join(", ") + ", ";
    hide();
    input.focus();
  };
  const highlight = (i) => {
    const items = list.querySelectorAll("li");
    items.forEach((li, j) => li.setAttribute("aria-selected", j === i ? "true" : "false"));
    active = i;
  };
  const lookup = async () => {
    const q = current();
    if (q.length < 1) {
      hide();
      return;
    }
    const mine = ++seq;
    let entries;
    try {
      const res = await fetch(url + "?q=" + encodeURIComponent(q), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!res.ok) return;
      entries = await res.json();
    } catch (e) {
      return;
    }
    if (mine !== seq) return;
    list.replaceChildren();
    active = -1;
    for (const e of entries) {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.dataset.address = e.address;
      li.textContent = e.name ? e.name + " <" + e.address + ">" : e.address;
      li.addEventListener("mousedown", (ev) => {
        ev.preventDefault();
        choose(e.address);
      });
      list.append(li);
    }
    list.hidden = entries.length === 0;
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(lookup, 150);
  });
  input.addEventListener("keydown", (ev) => {
    const items = list.querySelectorAll("li");
    if (list.hidden || items.length === 0) return;
    if (ev.key === "ArrowDown") {
      ev.preventDefault();
      highlight((active + 1) % items.length);
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      highlight((active - 1 + items.length) % items.length);
    } else if (ev.key === "Enter" && active >= 0) {
      ev.preventDefault();
      choose(items[active].dataset.address);
    } else if (ev.key === "Escape") {
      hide();
    }
  });
  input.addEventListener("blur", () => setTimeout(hide, 150));
}

// checkSize refuses, before uploading, files that make the message larger
// than the server accepts (base64 adds a third).
function checkSize(form) {
  const max = Number(form.dataset.maxSize || 0);
  const files = form.querySelector("input[type=file]");
  const box = document.getElementById("files-error");
  if (!max || !files || !box) return;
  const tooBig = () => {
    let total = 0;
    for (const f of files.files) total += f.size;
    return Math.ceil(total / 3) * 4 > max;
  };
  const show = () => {
    box.replaceChildren();
    if (!tooBig()) return false;
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = "Le message dépasse la taille maximale autorisée (" + form.dataset.maxSizeText +
      ", pièces jointes comprises). Retirez ou allégez des pièces jointes.";
    box.append(p);
    return true;
  };
  files.addEventListener("change", show);
  form.addEventListener("submit", (ev) => {
    if (show()) ev.preventDefault();
  });
}
