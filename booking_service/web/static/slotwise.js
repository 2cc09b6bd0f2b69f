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
