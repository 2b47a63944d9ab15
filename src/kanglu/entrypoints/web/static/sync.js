// Integrações: while a sync runs (the first import above all), the card updates itself
// from /integrations/tiny/sync-state, without a reload. Without this script the page is
// the same, only still. A same-origin file: the CSP ('self') allows it.
(function () {
  "use strict";

  var box = document.getElementById("sync-progress");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-state-url");
  var FAST = 2000, SLOW = 15000;
  // Fast polling for a few minutes at most: a worker that is down must not keep an open tab
  // asking every two seconds all day.
  var fastLeft = 150;

  function show(selector, visible) {
    document.querySelectorAll(selector).forEach(function (el) { el.hidden = !visible; });
  }

  function apply(state) {
    document.querySelectorAll("[data-sync]").forEach(function (el) {
      var key = el.getAttribute("data-sync");
      if (Object.prototype.hasOwnProperty.call(state, key)) { el.textContent = state[key]; }
    });
    show("[data-sync-first-import]", state.first_import);
    show("[data-sync-running]", state.syncing && !state.first_import);
    box.setAttribute("data-active", state.first_import || state.syncing ? "true" : "false");
  }

  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state || state.status !== "connected") { return; }  // the page says the rest
        apply(state);
        var fast = (state.first_import || state.syncing) && fastLeft > 0;
        if (fast) { fastLeft -= 1; }
        setTimeout(tick, fast ? FAST : SLOW);
      })
      .catch(function () { setTimeout(tick, SLOW); });
  }

  setTimeout(tick, box.getAttribute("data-active") === "true" ? FAST : SLOW);
})();
