// Kanglu: small enhancements; every page works without this script.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy refused"));
      } catch (err) {
        reject(err);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  // <button data-copy="element-id">: copies that input's value, says so for two seconds.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      copyText(source.value || source.textContent).then(function () {
        button.textContent = "Copiado!";
      }, function () {
        source.select && source.select();
        button.textContent = "Selecione e copie";
      }).then(function () {
        setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  });

  // Selects that apply a filter at once (the form still has its button without script).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form && select.form.submit(); });
  });

  // The menu on a narrow screen: its button opens and closes it; a click elsewhere or Escape
  // closes it too.
  var toggle = document.querySelector(".menu-toggle");
  var bar = toggle && toggle.closest(".topbar");
  function setMenu(open) {
    if (!bar) { return; }
    bar.classList.toggle("menu-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  if (bar) {
    toggle.addEventListener("click", function () { setMenu(!bar.classList.contains("menu-open")); });
    document.addEventListener("click", function (event) {
      if (!bar.contains(event.target)) { setMenu(false); }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && bar.classList.contains("menu-open")) { setMenu(false); toggle.focus(); }
    });
  }

  // A confirmation panel closes when the merchant clicks elsewhere or presses Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.confirm[open]").forEach(function (details) {
      if (!details.contains(event.target)) { details.removeAttribute("open"); }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.confirm[open]").forEach(function (d) { d.removeAttribute("open"); });
    }
  });
})();
