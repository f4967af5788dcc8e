// The console's small behaviours: deadlines counting down between refreshes, keyboard
// shortcuts in the queue (j/k move, Enter opens, a assigns to me, / jumps to the filters), and
// focus on the earlier timeline entries a ticket page loads.
// Without JavaScript everything still works: the server renders the countdowns and every
// action is a link or a form.
(function () {
  "use strict";

  // Same words as console_tags.countdown_words on the server.
  function countdownWords(dueMs, nowMs) {
    var seconds = Math.trunc((dueMs - nowMs) / 1000);
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440);
    minutes -= days * 1440;
    var hours = Math.floor(minutes / 60);
    minutes -= hours * 60;
    var span;
    if (days) span = days + " d " + hours + " h";
    else if (hours) span = hours + " h " + String(minutes).padStart(2, "0") + " min";
    else span = minutes + " min";
    return seconds > 0 ? "in " + span : span + " overdue";
  }

  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) return;
      el.textContent = countdownWords(due, now);
      el.classList.toggle("countdown--overdue", due <= now);
      el.classList.toggle("countdown--soon", due > now && due - now <= 30 * 60 * 1000);
    });
  }

  var selected = null; // the ticket number of the selected queue row, kept across refreshes

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  }

  function select(row) {
    rows().forEach(function (r) {
      r.classList.remove("is-selected");
      r.removeAttribute("aria-selected");
    });
    if (!row) return;
    row.classList.add("is-selected");
    row.setAttribute("aria-selected", "true");
    selected = row.dataset.ticket;
    var link = row.querySelector("a.ticket-number");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function currentIndex(all) {
    for (var i = 0; i < all.length; i++) if (all[i].dataset.ticket === selected) return i;
    return -1;
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var all = rows();
    if (event.key === "/") {
      var firstFilter = document.querySelector("form.filters select, form.filters input");
      if (firstFilter) {
        event.preventDefault();
        firstFilter.focus();
      }
      return;
    }
    if (!all.length) return;
    var index = currentIndex(all);
    if (event.key === "j") {
      event.preventDefault();
      select(all[Math.min(index + 1, all.length - 1)]);
    } else if (event.key === "k") {
      event.preventDefault();
      select(all[Math.max(index - 1, 0)]);
    } else if (event.key === "Enter" && index >= 0 && !(event.target && event.target.closest("a, button"))) {
      event.preventDefault();
      window.location.assign(all[index].dataset.href);
    } else if (event.key === "a" && index >= 0) {
      var form = document.getElementById("queue-assign-form");
      if (!form) return;
      event.preventDefault();
      form.action = all[index].dataset.assignUrl;
      form.elements.namedItem("next").value = window.location.pathname + window.location.search;
      form.submit();
    }
  });

  // The ticket page's "Show earlier entries": htmx puts the earlier entries in place of the
  // link; focus then moves to the first of them, so a keyboard or screen reader user carries on
  // reading from there instead of being dropped at the top of the page.
  var loadingEarlierEntries = false;

  document.addEventListener("click", function (event) {
    var row = event.target && event.target.closest && event.target.closest("tr.queue-row");
    if (row) select(row);
    if (event.target && event.target.closest && event.target.closest("#timeline-earlier a")) {
      loadingEarlierEntries = true;
    }
  });

  function focusFirstEarlierEntry() {
    if (!loadingEarlierEntries || document.getElementById("timeline-earlier")) return;
    loadingEarlierEntries = false;
    var first = document.querySelector("ol.timeline > li.entry");
    if (!first) return;
    first.setAttribute("tabindex", "-1");
    first.focus();
  }

  // After htmx swaps in fresh results, keep the selection and the countdowns.
  document.addEventListener("htmx:afterSwap", function () {
    var row = rows().filter(function (r) { return r.dataset.ticket === selected; })[0];
    if (row) {
      row.classList.add("is-selected");
      row.setAttribute("aria-selected", "true");
    }
    tickCountdowns();
    focusFirstEarlierEntry();
  });

  document.addEventListener("DOMContentLoaded", tickCountdowns);
  setInterval(tickCountdowns, 20 * 1000);
})();
