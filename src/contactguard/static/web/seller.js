// Seller Center: the resend button counts down its cooldown. No inline scripts (strict CSP).
(function () {
  "use strict";
  var timers = [];

  function countDown(button) {
    var left = parseInt(button.getAttribute("data-wait") || "0", 10);
    var label = button.getAttribute("data-label");
    var waiting = button.getAttribute("data-label-wait");
    function tick() {
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return false;
      }
      button.disabled = true;
      button.textContent = waiting.replace("{s}", String(left));
      left -= 1;
      return true;
    }
    if (tick()) {
      var id = setInterval(function () { if (!tick()) { clearInterval(id); } }, 1000);
      timers.push(id);
    }
  }

  function init() {
    timers.forEach(clearInterval);
    timers = [];
    document.querySelectorAll("button[data-wait]").forEach(countDown);
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();
