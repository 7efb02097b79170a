// Hygie web application: small progressive enhancements, no framework.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Account switcher: open the chosen account at once.
  for (const sel of document.querySelectorAll("select[data-switch]")) {
    sel.addEventListener("change", () => sel.form.submit());
  }
});
