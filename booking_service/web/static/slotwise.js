// Time zone detection for the booking pages (a static file: the Content Security Policy
// forbids inline scripts). When the page has no zone in its URL yet, read the browser's zone
// and reload the page with it, kept in the URL so links and the back button keep it.
// Without JavaScript the invitation's zone is used and the zone list still works.
(function () {
  "use strict";
  var form = document.querySelector("form.zone-picker");
  if (!form) { return; }
  var select = form.querySelector("select[name=zone]");
  var params = new URLSearchParams(window.location.search);
  if (params.has("zone")) { return; }
  var detected;
  try { detected = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!detected || detected === select.value) { return; }
  var known = Array.prototype.some.call(select.options, function (o) { return o.value === detected; });
  if (!known) { return; }
  params.set("zone", detected);
  window.location.replace(window.location.pathname + "?" + params.toString());
})();

// The month grid (WAI-ARIA grid pattern): one day button is in the tab order; the arrow keys move
// between days with times (left/right: the previous/next such day, up/down: a week back or on,
// else the nearest such day that way), Home/End to the first/last of the month.
(function () {
  "use strict";
  var grid = document.querySelector(".month-grid");
  if (!grid) { return; }
  var buttons = Array.prototype.slice.call(grid.querySelectorAll("button.day-button"));
  if (!buttons.length) { return; }
  var dayOf = function (b) { return Date.parse(b.value + "T00:00:00Z") / 86400000; };
  var move = function (from, to) {
    from.setAttribute("tabindex", "-1");
    to.removeAttribute("tabindex");
    to.focus();
  };
  grid.addEventListener("keydown", function (event) {
    var current = event.target;
    var index = buttons.indexOf(current);
    if (index < 0) { return; }
    var target = null;
    var day = dayOf(current);
    var nearest = function (wanted, forward) {
      var exact = buttons.filter(function (b) { return dayOf(b) === wanted; })[0];
      if (exact) { return exact; }
      var later = buttons.filter(function (b) { return forward ? dayOf(b) > day : dayOf(b) < day; });
      return forward ? later[0] : later[later.length - 1];
    };
    switch (event.key) {
      case "ArrowRight": target = buttons[index + 1]; break;
      case "ArrowLeft": target = buttons[index - 1]; break;
      case "ArrowDown": target = nearest(day + 7, true); break;
      case "ArrowUp": target = nearest(day - 7, false); break;
      case "Home": target = buttons[0]; break;
      case "End": target = buttons[buttons.length - 1]; break;
      default: return;
    }
    event.preventDefault();
    if (target) { move(current, target); }
  });
})();

// After a day is chosen in the month grid, focus goes to that day's times.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var day = params.get("day");
  if (!day) { return; }
  var heading = document.getElementById("day-" + day + "-title");
  if (heading) { heading.focus(); }
})();
