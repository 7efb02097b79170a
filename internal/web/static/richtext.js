// Hygie rich-text editor (signatures, automatic reply): the toolbar of the
// user guide over a contenteditable area. Plain JS, no inline script (CSP
// script-src 'self'). The server sanitises whatever is sent: this file only
// offers the formatting and keeps images to small raster files.
"use strict";
(() => {
  // Images: raster formats only, and small enough that their data: URI
  // stays under the server's limit (256 KiB once base64-encoded).
  const imageTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  const maxImageBytes = 190 * 1024;

  function setup(box) {
    const editor = box.querySelector("[data-rt-editor]");
    const input = box.querySelector("[data-rt-input]");
    const error = box.querySelector("[data-rt-error]");
    let range = null;

    // Remember the selection inside the editor, so that toolbar controls
    // (which take the focus) apply to it.
    document.addEventListener("selectionchange", () => {
      const sel = document.getSelection();
      if (sel.rangeCount > 0 && editor.contains(sel.getRangeAt(0).commonAncestorContainer)) {
        range = sel.getRangeAt(0).cloneRange();
      }
    });
    function restore() {
      const sel = document.getSelection();
      if (sel.rangeCount > 0 && editor.contains(sel.getRangeAt(0).commonAncestorContainer)) {
        // The selection is in the editor already (buttons keep it).
        range = sel.getRangeAt(0).cloneRange();
        editor.focus();
        return;
      }
      editor.focus();
      if (range) {
        sel.removeAllRanges();
        sel.addRange(range);
      } else if (!editor.contains(sel.anchorNode)) {
        const r = document.createRange();
        r.selectNodeContents(editor);
        r.collapse(false);
        sel.removeAllRanges();
        sel.addRange(r);
      }
    }
    function exec(cmd, value) {
      restore();
      document.execCommand("styleWithCSS", false, false);
      document.execCommand(cmd, false, value === undefined ? null : value);
      sync();
    }
    function sync() { input.value = editor.innerHTML; }
    function showError(msg) {
      error.textContent = msg;
      error.hidden = !msg;
    }

    for (const b of box.querySelectorAll("button[data-cmd]")) {
      // Keep the editor's selection when the button is pressed.
      b.addEventListener("mousedown", (e) => e.preventDefault());
      b.addEventListener("click", () => exec(b.dataset.cmd));
    }
    for (const s of box.querySelectorAll("select[data-cmd]")) {
      s.addEventListener("change", () => {
        if (s.value) exec(s.dataset.cmd, s.value);
        s.selectedIndex = 0;
      });
    }
    for (const c of box.querySelectorAll("input[type=color][data-cmd]")) {
      c.addEventListener("change", () => exec(c.dataset.cmd, c.value));
    }
    const file = box.querySelector("input[data-rt-image]");
    if (file) {
      file.addEventListener("change", () => {
        const f = file.files && file.files[0];
        file.value = "";
        if (!f) return;
        if (!imageTypes.includes(f.type)) {
          showError("Image refusée : choisissez une image PNG, JPEG, GIF ou WebP.");
          return;
        }
        if (f.size > maxImageBytes) {
          showError("Image refusée : elle dépasse 190 Ko. Réduisez-la avant de l’insérer.");
          return;
        }
        showError("");
        const reader = new FileReader();
        reader.addEventListener("load", () => {
          const url = String(reader.result);
          if (!/^data:image\/(png|jpeg|gif|webp);base64,/.test(url)) {
            showError("Image refusée : format non reconnu.");
            return;
          }
          exec("insertImage", url);
        });
        reader.readAsDataURL(f);
      });
    }
    const clear = box.querySelector("[data-rt-clear]");
    if (clear) {
      clear.addEventListener("mousedown", (e) => e.preventDefault());
      clear.addEventListener("click", () => { removeStyles(editor); sync(); });
    }
    editor.addEventListener("input", sync);
    const form = box.closest("form");
    if (form) form.addEventListener("submit", sync);
  }

  // removeStyles takes every style out of the editor: style, colour, font
  // and alignment attributes, and the elements that only carry a style
  // (bold, italic, underline, font, span…); text, line breaks, lists and
  // images stay.
  function removeStyles(editor) {
    const unwrap = ["B", "STRONG", "I", "EM", "U", "S", "STRIKE", "FONT", "SPAN", "SUB", "SUP", "SMALL"];
    for (const el of Array.from(editor.querySelectorAll("*"))) {
      for (const a of ["style", "align", "color", "face", "size"]) el.removeAttribute(a);
      if (unwrap.includes(el.tagName)) {
        el.replaceWith(...el.childNodes);
      }
    }
    editor.normalize();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const box of document.querySelectorAll("[data-richtext]")) setup(box);
  });
})();
