// The run page's live progress: polls the same `progress` query `client.py top` reads and
// updates the figures in place (textContent only: nothing from the server becomes markup).
// The page reloads when the run starts or ends a plan review, or ends: the server renders those.
"use strict";

(function () {
  function money(usd) { return "$" + Number(usd || 0).toFixed(4); }

  function fields(p) {
    var node = p.held_before ? "held before " + p.held_before : (p.paused ? "pausing" : (p.node || "–"));
    var trend = (p.quality_history || []).map(function (q) { return q.toFixed(2); }).join(" → ");
    return {
      phase: p.phase, node: node, iteration: p.iteration + "/" + p.max_iterations,
      quality: trend || "–", calls: String(p.usage.calls), tokens: String(p.usage.total_tokens),
      cost: money(p.usage.cost_usd), found: p.questions_asked + " / " + p.sources_found,
      stop: p.stop_reason || "–"
    };
  }

  function poll(section) {
    var url = section.dataset.url;
    var every = Number(section.dataset.poll) || 1000;
    var status = section.dataset.status;
    var review = section.dataset.review;
    var live = document.getElementById("progress-live");
    var leaving = false;  // a form was sent: its answer is the next page, not a reload
    document.addEventListener("submit", function () { leaving = true; });
    function tick() {
      if (leaving) return;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (leaving) return;
          if (data.error) {  // Temporal slow or unreachable: say so, try again later
            if (live) live.textContent = data.error;
            setTimeout(tick, every * 3);
            return;
          }
          if (live) live.textContent = "";
          var p = data.progress;
          var reviewNow = p && p.plan_review ? p.plan_review : "";
          if (data.status !== status || ((reviewNow === "waiting") !== (review === "waiting"))) {
            window.location.replace(window.location.pathname);
            return;
          }
          if (p) {
            var values = fields(p);
            Object.keys(values).forEach(function (name) {
              var el = section.querySelector('[data-field="' + name + '"]');
              if (el && el.textContent !== values[name]) {
                el.textContent = values[name];
                el.classList.remove("changed"); void el.offsetWidth; el.classList.add("changed");
              }
            });
          }
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 3); });
    }
    setTimeout(tick, every);
  }

  function costLine() {
    var out = document.getElementById("max-cost");
    if (!out) return;
    var tokens = document.getElementById("max_total_tokens");
    var usd = document.getElementById("max_cost_usd");
    function update() {
      var perToken = out.dataset.perToken === "" ? null : Number(out.dataset.perToken);
      var t = Number(tokens.value), budget = usd.value.trim() === "" ? null : Number(usd.value);
      if (!(t > 0) || (budget !== null && !(budget > 0))) {
        out.textContent = "(fix the budgets to see the most this run can cost)"; return;
      }
      var bounds = [];
      if (budget !== null) bounds.push(budget);
      if (perToken !== null) bounds.push(t * perToken);
      out.textContent = bounds.length
        ? "at most $" + Math.min.apply(null, bounds).toFixed(2) + " (" + out.dataset.note + "; " + t + " tokens)"
        : "at most " + t + " tokens (" + out.dataset.note + "; set a money budget for a cap)";
    }
    tokens.addEventListener("input", update);
    usd.addEventListener("input", update);
  }

  // A citation near the right edge: its evidence moves left so all of it is on screen.
  function keepInView(cite) {
    var tip = cite.querySelector(".evidence");
    if (!tip) return;
    tip.style.left = "0px";
    var rect = tip.getBoundingClientRect();
    var over = rect.right - (document.documentElement.clientWidth - 8);
    if (over > 0) tip.style.left = -Math.min(over, Math.max(rect.left - 8, 0)) + "px";
  }

  // Escape closes a citation's evidence until focus or the pointer leaves it (WCAG 1.4.13).
  function dismissible() {
    document.addEventListener("keydown", function (event) {
      var cite = event.target.closest && event.target.closest(".cite");
      if (event.key === "Escape" && cite) cite.classList.add("dismissed");
    });
    document.querySelectorAll(".cite").forEach(function (cite) {
      cite.addEventListener("focusin", function () { keepInView(cite); });
      cite.addEventListener("mouseenter", function () { keepInView(cite); });
      cite.addEventListener("focusout", function () { cite.classList.remove("dismissed"); });
      cite.addEventListener("mouseleave", function () { cite.classList.remove("dismissed"); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    dismissible();
    var section = document.getElementById("progress");
    if (section && section.dataset.status === "running") poll(section);
    costLine();
  });
})();
