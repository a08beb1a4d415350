/* The Traces tab's Metrics panel: asks the server for its figures (studio/views/traces.py,
   trace_metrics; built by studio/charts.py, trace_metrics_figures) once the table is on screen,
   and draws them with plotly.js. Titles and labels are set as text, never as HTML. */
(function () {
  "use strict";
  var panel = document.querySelector("section.trace-metrics[data-src]");
  if (!panel) return;
  var holder = panel.querySelector(".trace-metric-charts");
  var status = panel.querySelector('[data-field="status"]');
  var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function fail(message) {
    panel.setAttribute("aria-busy", "false");
    status.textContent = message;
    status.classList.remove("loading");
  }

  function draw(answer) {
    panel.setAttribute("aria-busy", "false");
    if (!answer.figures.length) {  // no traces after all (all deleted since the page was made)
      panel.hidden = true;
      return;
    }
    panel.querySelector('[data-field="interval"]').textContent = ", per " + answer.interval;
    holder.replaceChildren();
    answer.figures.forEach(function (chart) {
      var figure = document.createElement("figure");
      figure.className = "trace-metric";
      figure.dataset.metric = chart.key;
      var caption = document.createElement("figcaption");
      caption.textContent = chart.title;
      var plot = document.createElement("div");
      plot.className = "plot";
      plot.id = "trace-metric-" + chart.key;
      plot.setAttribute("role", "img");
      plot.setAttribute("aria-label", chart.title + " over time");
      figure.append(caption, plot);
      holder.append(figure);
      window.Plotly.newPlot(plot, chart.figure.data, chart.figure.layout, config);
    });
  }

  function load() {
    fetch(panel.dataset.src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (answer) {
        if (window.Plotly) draw(answer);
        else fail("The charts need plotly.js, which did not load.");
      })
      .catch(function (error) { fail("The charts could not be loaded (" + error.message + ")."); });
  }

  // plotly.js is a deferred script: it has run by DOMContentLoaded.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
  else load();
})();
