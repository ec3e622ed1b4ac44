// Small enhancements only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // Preselect the browser's time zone when the learner has none yet.
    document.querySelectorAll("[data-detect-timezone] select").forEach(function (select) {
      var zone;
      try {
        zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      } catch (e) {
        return;
      }
      // An alias the list does not offer (Chrome reports Asia/Calcutta) stands for its zone.
      try {
        zone = JSON.parse(select.getAttribute("data-timezone-aliases") || "{}")[zone] || zone;
      } catch (e) { /* no aliases: the name as detected */ }
      if (zone && select.querySelector('option[value="' + CSS.escape(zone) + '"]')) {
        select.value = zone;
      }
    });

    // Self-assessment: show only the chosen track's questions.
    document.querySelectorAll("form[data-assessment]").forEach(function (form) {
      var radios = form.querySelectorAll('input[name="track"]');
      var groups = form.querySelectorAll("[data-track]");
      var hint = form.querySelector("[data-track-hint]");
      function sync() {
        var chosen = form.querySelector('input[name="track"]:checked');
        groups.forEach(function (group) {
          group.hidden = !chosen || group.getAttribute("data-track") !== chosen.value;
        });
        if (hint) hint.hidden = !!chosen;
      }
      radios.forEach(function (radio) { radio.addEventListener("change", sync); });
      sync();

      // "Prefer not to say" empties and disables its amount.
      form.querySelectorAll('input[type="checkbox"][name$="_undisclosed"]').forEach(function (box) {
        var amount = form.querySelector('input[name="' + box.name.replace(/_undisclosed$/, "") + '"]');
        if (!amount) return;
        function syncAmount() {
          amount.disabled = box.checked;
          if (box.checked) amount.value = "";
        }
        box.addEventListener("change", syncAmount);
        syncAmount();
      });
    });

    // The progress page's ticks swap its body in place: keep the focus on the toggle that
    // was pressed (so the next Tab reaches its Undo), and after an Undo put it back there.
    var refocus = null;
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var elt = event.detail.elt;
      refocus = (elt && (elt.getAttribute("data-refocus") || elt.id)) || null;
    });
    document.body.addEventListener("htmx:afterSettle", function () {
      var target = refocus && document.getElementById(refocus);
      refocus = null;
      if (!target) return;
      // Only where the swap lost the focus (an Undo's button is gone) or kept it on the
      // toggle: a keyboard user who already tabbed on (to the Undo) keeps their place.
      var active = document.activeElement;
      if (active && active !== document.body && active !== target) return;
      target.focus({ preventScroll: true });
      // The toggle and, right after it, what the tick did and its Undo: both in sight.
      var status = document.getElementById("tick-status");
      (status || target).scrollIntoView({ block: "nearest" });
      target.scrollIntoView({ block: "nearest" });
    });

    var summary = document.querySelector("[data-autofocus]");
    if (summary) summary.focus();
  });
})();
