// The instructors' admin: accessible names for controls that Django's (and allauth's)
// widgets draw without one. Server-rendered markup we own is fixed in its template instead.
(function () {
  "use strict";

  function nameSplitDateTimes(root) {
    // AdminSplitDateTime: "Date: <input> Time: <input>" with a label for neither input.
    root.querySelectorAll("p.datetime").forEach(function (p) {
      var row = p.closest(".form-row, .fieldBox, td");
      var label = row && row.querySelector("label");
      var field = label ? label.textContent.replace(/:\s*$/, "").trim() : "";
      p.querySelectorAll("input").forEach(function (input, index) {
        if (!input.labels || input.labels.length === 0) {
          var part = index === 0 ? "date" : "time";
          input.setAttribute("aria-label", field ? field + ", " + part : part);
        }
      });
    });
  }

  function fixTooltips(root) {
    // SelectFilter2's search icons carry aria-label on a bare span (aria-prohibited-attr).
    root.querySelectorAll(".search-label-icon[aria-label]:not([role])").forEach(function (el) {
      el.setAttribute("role", "img");
    });
  }

  function fix(root) {
    nameSplitDateTimes(root);
    fixTooltips(root);
  }

  // The admin shows times in the browser's time zone (pyramid_site.middleware.
  // AdminTimezoneMiddleware reads this cookie from the next page on).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) {
      document.cookie = "admin_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
  } catch (e) { /* no Intl: the site's zone */ }

  function previewExperimentPlan() {
    // The experiment form's plan (learners needed, what a size detects), redrawn from the
    // server (ExperimentAdmin.plan_view) while the instructor types its numbers.
    var box = document.getElementById("experiment-plan");
    var form = box && box.closest("form");
    if (!box || !form || !box.dataset.previewUrl) return;
    var names = ["baseline_percent", "min_lift_points", "holdout_percent"];
    var fields = names.map(function (name) { return form.elements.namedItem(name); });
    if (fields.some(function (field) { return !field; })) return;  // read-only: nothing typed
    var timer = null;
    var asked = 0;
    function redraw() {
      var query = new URLSearchParams();
      fields.forEach(function (field) { query.set(field.name, field.value); });
      var mine = ++asked;
      fetch(box.dataset.previewUrl + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null && mine === asked) box.innerHTML = html;  // only the latest answer
        })
        .catch(function () { /* offline: the plan is redrawn when the form is sent */ });
    }
    fields.forEach(function (field) {
      field.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(redraw, 250);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    previewExperimentPlan();
    fix(document);
    // The filter widgets are drawn on "load", inline rows on "Add another": fix them too.
    new MutationObserver(function () { fix(document); }).observe(document.body, {
      childList: true,
      subtree: true,
    });
  });
})();
